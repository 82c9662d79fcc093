//! Every kernel specialisation the ops can ask for parses and validates with
//! naga, and builds into a pipeline on the device.

use crate::common::rt;

#[test]
fn every_kernel_validates_with_naga() {
    let specs = wgpu_attngan::ops::all_kernel_specs();
    assert!(specs.len() > 20, "only {} specs listed", specs.len());
    for spec in specs {
        let source = spec.source().unwrap();
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", spec.key(), e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {e:?}", spec.key()));
    }
}

#[test]
fn every_kernel_builds_on_the_device() {
    let rt = rt();
    for spec in wgpu_attngan::ops::all_kernel_specs() {
        rt.pipeline(&spec).unwrap_or_else(|e| panic!("{e}"));
    }
}
