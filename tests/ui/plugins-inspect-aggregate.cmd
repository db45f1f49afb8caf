# args: plugins inspect aggregate
# exit: 0
