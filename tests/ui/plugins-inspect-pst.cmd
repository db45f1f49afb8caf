# args: plugins inspect pst
# exit: 0
