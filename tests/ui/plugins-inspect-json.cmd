# args: plugins inspect pst --json
# exit: 0
