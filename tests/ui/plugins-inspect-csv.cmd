# args: plugins inspect csv
# exit: 0
