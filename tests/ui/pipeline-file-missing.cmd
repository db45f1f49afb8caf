# args: validate nope.toml
# exit: 2
