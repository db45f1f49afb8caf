# args: validate --help
# exit: 0
