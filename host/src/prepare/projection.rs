//! Projection: every stream carries only the columns something downstream
//! needs. A sink needs every column of its stream; a transform needs the
//! columns it reads (WIT 0.2.0 `input-columns`) plus those it passes
//! through that are needed after it. The result is each stream's
//! (projected) schema and the columns each transform is sent; readers are
//! told their outputs' schemas with `configure`, and the router
//! re-attaches what a transform passes through.

use super::{Consumer, PreparedTransform, Stream};
use crate::ipc;
use arrow_schema::Schema;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Prunes every stream to the columns needed downstream of it, and works
/// out which columns each transform is sent (see the module doc).
///
/// Streams are created in pipeline order, each from earlier ones, so one
/// pass from the last stream to the first sees every consumer's needs
/// before the stream's own.
pub fn project(
    streams: &mut [Stream],
    consumers: &[Vec<Consumer>],
    transforms: &mut [PreparedTransform],
    reads: &[Option<Vec<String>>],
) {
    // Needed column names per stream; `None` is every column.
    let mut needed: Vec<Option<BTreeSet<String>>> = vec![Some(BTreeSet::new()); streams.len()];
    for s in (0..streams.len()).rev() {
        let declared = streams[s].declared.clone();
        let all: BTreeSet<String> = declared.fields().iter().map(|f| f.name().clone()).collect();
        let mut want: Option<BTreeSet<String>> = Some(BTreeSet::new());
        for c in &consumers[s] {
            let add: Option<BTreeSet<String>> = match *c {
                Consumer::Sink(_) => None,
                Consumer::Transform(t) => match &reads[t] {
                    None => None,
                    Some(cols) => {
                        // Read columns, and the columns passed through to
                        // what is needed after the transform.
                        let out = transforms[t].output;
                        let after = match &needed[out] {
                            Some(n) => n.clone(),
                            None => streams[out].declared.fields().iter().map(|f| f.name().clone()).collect(),
                        };
                        let mut set: BTreeSet<String> = cols.iter().cloned().collect();
                        set.extend(after.into_iter().filter(|n| all.contains(n)));
                        Some(set)
                    }
                },
            };
            want = match (want, add) {
                (Some(mut w), Some(a)) => {
                    w.extend(a);
                    Some(w)
                }
                _ => None,
            };
        }
        // A stream nothing reads (an unused reader output) keeps its
        // schema: the reader emits it and it goes nowhere.
        if consumers[s].is_empty() || want.as_ref().is_some_and(|w| w.len() == all.len()) {
            want = None;
        }
        if let Some(w) = &want {
            let keep: Vec<usize> =
                (0..declared.fields().len()).filter(|&i| w.contains(declared.field(i).name())).collect();
            streams[s].schema = Arc::new(declared.project(&keep).expect("indices of its own fields"));
        }
        needed[s] = want;
    }
    for (t, tr) in transforms.iter_mut().enumerate() {
        let schema = streams[tr.input].schema.clone();
        tr.sends = reads[t].as_ref().and_then(|cols| {
            let idx: Vec<usize> = (0..schema.fields().len())
                .filter(|&i| cols.iter().any(|c| c == schema.field(i).name()))
                .collect();
            (idx.len() < schema.fields().len()).then_some(idx)
        });
        let opened: Schema = match &tr.sends {
            Some(idx) => schema.project(idx).expect("indices of its own fields"),
            None => (*schema).clone(),
        };
        tr.input_schema_ipc = ipc::encode_schema(&opened).unwrap_or_default();
    }
}
