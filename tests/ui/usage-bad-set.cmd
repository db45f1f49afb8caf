# args: validate pipeline.toml --set workers
# exit: 2
