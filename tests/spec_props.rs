//! Property tests of the spec language:
//! - random estates (random DAGs of resources) written as TOML and loaded back
//!   are equal to the originals (writer and loader are inverses);
//! - the loaded graph has exactly the edges the references and `depends_on`
//!   imply;
//! - loading never panics, whatever the bytes in any spec file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use statectl::catalog;
use statectl::model::{
    Address, CostItem, Environment, Estate, Interval, Lifecycle, Objectives, Reference, Resource,
    Segment, Value,
};
use statectl::spec::{EstateDoc, Loader};

/// Types the generator draws from: top-level, child and extension types.
const TYPES: &[&str] = &[
    "Microsoft.Network/virtualNetworks",
    "Microsoft.Network/virtualNetworks/subnets",
    "Microsoft.Authorization/roleAssignments",
    "Microsoft.KeyVault/vaults",
    "Microsoft.Storage/storageAccounts/blobServices/containers",
    "Microsoft.Insights/diagnosticSettings",
];
const MODULES: &[&str] = &["core", "net", "data_2"];

fn literal() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-1.0e6f64..1.0e6).prop_map(Value::Float),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::List),
            prop::collection::btree_map(".{0,6}", inner, 0..3).prop_map(Value::Map),
        ]
    })
}

/// A plan for one resource: which earlier resources it references, how, and
/// which it lists in `depends_on`.
#[derive(Debug, Clone)]
struct Plan {
    module: usize,
    ty: usize,
    refs: Vec<(prop::sample::Index, u8, String)>,
    deps: Vec<prop::sample::Index>,
    props: BTreeMap<String, Value>,
    tags: BTreeMap<String, String>,
    prevent_destroy: bool,
    name: String,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        0..MODULES.len(),
        0..TYPES.len(),
        prop::collection::vec(
            (any::<prop::sample::Index>(), 0u8..3, "[a-z$/ .]{1,4}"),
            0..3,
        ),
        prop::collection::vec(any::<prop::sample::Index>(), 0..3),
        prop::collection::btree_map("p_[a-z0-9_]{0,6}", literal(), 0..4),
        prop::collection::btree_map("[a-z][a-z-]{0,6}", ".{1,8}", 0..3),
        any::<bool>(),
        "[a-zA-Z0-9$ {}-]{1,10}",
    )
        .prop_map(
            |(module, ty, refs, deps, props, tags, prevent_destroy, name)| Plan {
                module,
                ty,
                refs,
                deps,
                props,
                tags,
                prevent_destroy,
                name,
            },
        )
}

fn environment() -> Environment {
    Environment::plain("dev", "00000000-0000-4000-8000-000000000001", "eastus")
}

/// Builds the estate the plans describe, and the edges they imply.
fn build(plans: &[Plan]) -> (Estate, BTreeSet<(Address, Address)>) {
    let mut resources = BTreeMap::new();
    let mut addrs: Vec<Address> = Vec::new();
    let mut edges = BTreeSet::new();
    for (i, p) in plans.iter().enumerate() {
        let address = Address::new(MODULES[p.module], &format!("r{i}")).unwrap();
        let rt = catalog::lookup(TYPES[p.ty]).unwrap();
        let mut properties = p.props.clone();
        let mut refs = Vec::new();
        if !addrs.is_empty() {
            for (k, (idx, how, lit)) in p.refs.iter().enumerate() {
                let target = idx.get(&addrs).clone();
                let r = Reference {
                    address: target.clone(),
                    attr: if k % 2 == 0 {
                        "id".into()
                    } else {
                        "name".into()
                    },
                };
                let v = match how {
                    0 => Value::Ref(r),
                    1 => Value::Template(vec![Segment::Lit(lit.clone()), Segment::Ref(r)]),
                    _ => Value::List(vec![Value::Ref(r), Value::Int(1)]),
                };
                properties.insert(format!("ref_{k}"), v);
                refs.push(target);
            }
        }
        // The placement property the type's id needs.
        for pp in rt.placement_properties() {
            let v = match addrs.last() {
                Some(t) => {
                    refs.push(t.clone());
                    Value::Ref(Reference {
                        address: t.clone(),
                        attr: "id".into(),
                    })
                }
                None => Value::String("literal-parent".into()),
            };
            properties.insert(pp.to_string(), v);
        }
        let depends_on: BTreeSet<Address> = if addrs.is_empty() {
            BTreeSet::new()
        } else {
            p.deps.iter().map(|d| d.get(&addrs).clone()).collect()
        };
        for t in refs.iter().chain(depends_on.iter()) {
            edges.insert((address.clone(), t.clone()));
        }
        let tags = if rt.taggable {
            p.tags.clone()
        } else {
            BTreeMap::new()
        };
        resources.insert(
            address.clone(),
            Resource {
                address: address.clone(),
                arm_type: rt.arm_type.into(),
                // The index keeps Azure identities distinct.
                name: format!("{}-{i}", p.name),
                properties,
                tags,
                depends_on,
                lifecycle: Lifecycle {
                    prevent_destroy: p.prevent_destroy,
                },
            },
        );
        addrs.push(address);
    }
    let objectives = Objectives {
        rto: Interval::from_hours(4),
        rpo: Interval::from_mins(15),
        monthly_budget_usd: Some(100),
        required_tags: vec!["cost-center".into(), "environment".into(), "owner".into()],
    };
    let cost = vec![CostItem {
        name: "egress".into(),
        usd_cents: 7525,
        source: "test".into(),
    }];
    let estate = Estate::new("rand".into(), environment(), objectives, cost, resources).unwrap();
    (estate, edges)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn spec_round_trip(plans in prop::collection::vec(plan(), 1..25)) {
        let (estate, edges) = build(&plans);
        let dir = tempfile::tempdir().unwrap();
        EstateDoc::render(&estate).write(dir.path()).unwrap();
        let loaded = match Loader::new(dir.path()).load("rand", "dev") {
            Ok(e) => e,
            Err(e) => {
                let files: Vec<String> = EstateDoc::render(&estate).files.iter().map(|(p, t)| format!("# {}\n{t}", p.display())).collect();
                panic!("written estate does not load:\n{}\n{}", e.render(), files.join("\n"));
            }
        };
        prop_assert_eq!(&loaded, &estate);
        let got: BTreeSet<(Address, Address)> = loaded.graph().edges().map(|(a, b)| (a.clone(), b.clone())).collect();
        prop_assert_eq!(got, edges);
    }

    #[test]
    fn loading_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400), which in 0usize..3) {
        let p = util::Project::minimal();
        let file = ["specs/shop/net.toml", "specs/shop/estate.toml", "environments/dev.toml"][which];
        p.write_bytes(file, &bytes);
        let _ = Loader::new(p.path()).load("shop", "dev");
    }

    #[test]
    fn loading_mutated_specs_never_panics(
        which in 0usize..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let p = util::Project::minimal();
        let (file, text) = [
            ("specs/shop/net.toml", util::NET_SHOP),
            ("specs/shop/estate.toml", util::ESTATE_SHOP),
            ("environments/dev.toml", util::ENV_DEV),
        ][which];
        let mut bytes = text.as_bytes().to_vec();
        for (idx, b, op) in edits {
            if bytes.is_empty() { break; }
            let i = idx.index(bytes.len());
            match op {
                0 => bytes[i] = b,
                1 => { bytes.insert(i, b); }
                _ => bytes.truncate(i),
            }
        }
        p.write_bytes(file, &bytes);
        let _ = Loader::new(p.path()).load("shop", "dev");
    }
}
