# args: run pipeline.toml --workers 0
# exit: 2
