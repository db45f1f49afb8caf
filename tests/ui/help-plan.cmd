# args: plan --help
# exit: 0
