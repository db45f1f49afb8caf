# args: run --help
# exit: 0
