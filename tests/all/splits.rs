//! Running a pipeline split by split (issue 16's engine-neutral pieces):
//! `runtime plan --json` is the stable list of a run's splits, with each
//! split's key and a fingerprint of the whole plan, and `runtime run
//! --splits FILE` runs only the splits FILE names. Two runs over two halves
//! of a plan write exactly the rows of one whole run; a list from a plan
//! whose inputs have changed, or naming splits the plan does not have, is
//! refused with the reason before anything runs.

use crate::tables::read_delta;
use crate::util::Case;

fn case() -> Case {
    let case = Case::new();
    for f in 0..4 {
        let text: String = (0..25).map(|i| format!("{{\"id\":{}}}\n", f * 100 + i)).collect();
        case.write(&format!("data/f{f}.ndjson"), text);
    }
    case.write(
        "pipeline.toml",
        "version = 1\nname = \"halves\"\n[source]\nplugin = \"ndjson\"\ninputs = \"data/*.ndjson\"\n\
         options = { fields = [{ name = \"id\", type = \"int64\" }] }\n\
         [sinks.t]\nformat = \"delta\"\npath = \"out/t\"\nmode = \"append\"\n",
    );
    case
}

fn ids(case: &Case) -> Vec<i64> {
    use arrow_array::cast::AsArray;
    let (_, batches) = read_delta(&case.path("out/t"));
    let mut ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<arrow_array::types::Int64Type>().values().to_vec())
        .collect();
    ids.sort();
    ids
}

#[test]
fn two_halves_of_a_plan_write_the_rows_of_one_run_once() {
    let c = case();
    let plan = c.run(&["plan", "pipeline.toml", "--json"]);
    plan.expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout()).unwrap();
    let fingerprint = plan["fingerprint"].as_str().unwrap();
    assert_eq!(fingerprint.len(), 64, "{plan}");
    let splits = plan["splits"].as_array().unwrap();
    assert_eq!(splits.len(), 4);
    assert!(splits.iter().all(|s| s["key"].as_str().unwrap().starts_with(s["id"].as_str().unwrap())));
    // The same plan twice has the same fingerprint.
    let again: serde_json::Value =
        serde_json::from_str(&c.run(&["plan", "pipeline.toml", "--json"]).stdout()).unwrap();
    assert_eq!(again["fingerprint"], plan["fingerprint"]);

    // First half as plan JSON (fingerprint checked), second as a list of ids.
    let mut first = plan.clone();
    first["splits"] = serde_json::Value::Array(splits[..2].to_vec());
    c.write("first.json", first.to_string());
    let rest: Vec<&str> = splits[2..].iter().map(|s| s["id"].as_str().unwrap()).collect();
    c.write("rest.txt", format!("# the other half\n{}\n\n", rest.join("\n")));
    let (run, report) = c.run_pipeline("pipeline.toml", &["--splits", "first.json"]);
    run.expect_code(0);
    assert_eq!(report["splits_total"], 2, "{report}");
    assert_eq!(ids(&c).len(), 50);
    let (run, report) = c.run_pipeline("pipeline.toml", &["--splits", "rest.txt"]);
    run.expect_code(0);
    assert_eq!(report["splits_total"], 2, "{report}");
    let whole: Vec<i64> = (0..4).flat_map(|f| (0..25).map(move |i| f * 100 + i)).collect();
    assert_eq!(ids(&c), whole, "every row once");
}

#[test]
fn a_split_list_that_does_not_fit_the_plan_is_refused_before_anything_runs() {
    let c = case();
    let plan: serde_json::Value =
        serde_json::from_str(&c.run(&["plan", "pipeline.toml", "--json"]).stdout()).unwrap();
    c.write("plan.json", plan.to_string());
    c.write("bad.txt", "data/f0.ndjson@0..10\nno-such-split\n");
    let (run, report) = c.run_pipeline("pipeline.toml", &["--splits", "bad.txt"]);
    run.expect_code(2);
    let error = report["error"].as_str().unwrap();
    assert!(
        error.contains(
            "2 of its 2 splits are not in this pipeline's plan: `data/f0.ndjson@0..10`, `no-such-split`"
        ),
        "{error}"
    );
    // An input changed since the plan: its fingerprint no longer matches.
    c.write("data/f3.ndjson", "{\"id\":1}\n");
    let (run, report) = c.run_pipeline("pipeline.toml", &["--splits", "plan.json"]);
    run.expect_code(2);
    assert!(
        report["error"].as_str().unwrap().contains("the plan has changed since that list was made"),
        "{report}"
    );
    assert!(!c.path("out/t/_delta_log").is_dir() || ids(&c).is_empty(), "nothing was written");
    // A list that cannot be read says so and how to fix it.
    let run = c.run(&["run", "pipeline.toml", "--splits", "missing.txt"]);
    run.expect_code(2);
    assert!(run.stderr().contains("--splits missing.txt: cannot read it"), "{}", run.stderr());
}
