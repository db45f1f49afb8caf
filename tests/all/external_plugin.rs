//! A plugin built outside the host's workspace (tests/fixtures/plugins/upper,
//! its own crate depending only on the SDK) runs in a pipeline that names
//! its .wasm, with the already-built `runtime`: no host rebuild.

use crate::util::{Case, fixture_plugins, read_parquet, row_count};
use arrow_array::cast::AsArray;

#[test]
fn user_plugin_built_separately_runs_by_path() {
    let wasm = fixture_plugins("upper").join("upper.wasm");
    assert!(wasm.is_file());

    let case = Case::new();
    std::fs::copy(&wasm, case.path("upper.wasm")).unwrap();
    case.write(
        "data/people.ndjson",
        "{\"name\":\"ada\",\"age\":36}\n{\"name\":\"grace\",\"age\":85}\n{\"name\":null,\"age\":1}\n",
    );
    case.write(
        "pipeline.toml",
        r#"version = 1
[source]
plugin = "ndjson"
inputs = "data/*.ndjson"
options.fields = [{ name = "name", type = "string" }, { name = "age", type = "int64" }]

[[transforms]]
name = "shout"
plugin = "upper.wasm"
options = { column = "name" }

[sinks.people]
format = "parquet"
path = "out/people.parquet"
"#,
    );
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    let batches = read_parquet(&case.path("out/people.parquet"));
    assert_eq!(row_count(&batches), 3);
    let names: Vec<Option<&str>> =
        batches.iter().flat_map(|b| b.column(0).as_string::<i32>().iter()).collect();
    assert_eq!(names, vec![Some("ADA"), Some("GRACE"), None]);
    assert!(report["plugins"][1]["plugin"].as_str().unwrap().ends_with("upper.wasm"));

    // `plugins inspect` reads the same file.
    let inspect = case.run(&["plugins", "inspect", "upper.wasm"]);
    inspect.expect_code(0);
    assert!(
        inspect.stdout().starts_with("upper 0.1.0 (transform, runtime:plugin@0.2.0)"),
        "{}",
        inspect.stdout()
    );
}
