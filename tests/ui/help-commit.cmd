# args: commit --help
# exit: 0
