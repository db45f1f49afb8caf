# args: plugins inspect plugins/nope.wasm
# exit: 2
