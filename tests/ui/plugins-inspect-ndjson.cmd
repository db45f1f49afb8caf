# args: plugins inspect ndjson
# exit: 0
