# args: plugins inspect sql
# exit: 0
