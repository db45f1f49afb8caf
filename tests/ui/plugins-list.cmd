# args: plugins list
# exit: 0
