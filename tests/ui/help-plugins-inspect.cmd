# args: plugins inspect --help
# exit: 0
