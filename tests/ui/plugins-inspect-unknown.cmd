# args: plugins inspect ndjsn
# exit: 2
