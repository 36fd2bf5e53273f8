//! One test per class of spec error: each breaks a valid project in one way
//! and asserts that `statectl validate` exits 1 and that stderr names the
//! file, line and column, the key at fault, and how to fix it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use util::{NET_SHOP, Project};

/// Replaces `net.toml`, validates, and checks the error.
fn expect_error(net_toml: &str, location: &str, key: &str, fragments: &[&str]) {
    let p = Project::minimal();
    p.write("specs/shop/net.toml", net_toml);
    let run = p.run(&["validate"]);
    assert_eq!(
        run.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains(&format!("--> {location}")),
        "want location {location} in:\n{}",
        run.stderr
    );
    if !key.is_empty() {
        assert!(
            run.stderr.contains(&format!("= key: {key}\n")),
            "want key {key} in:\n{}",
            run.stderr
        );
    }
    for f in fragments {
        assert!(run.stderr.contains(f), "want {f:?} in:\n{}", run.stderr);
    }
    assert!(run.stdout.contains("invalid shop/dev"), "{}", run.stdout);
}

#[test]
fn minimal_project_is_valid() {
    let run = Project::minimal().run(&["validate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "ok      shop/dev: 2 resources, 1 dependencies\n1 stack(s) valid\n"
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn syntax_error() {
    expect_error(
        "[rg\ntype = 1\n",
        "specs/shop/net.toml:1:4",
        "",
        &["error: invalid TOML", "fix the TOML syntax"],
    );
}

#[test]
fn unknown_key() {
    let text = NET_SHOP.replace("[vnet]\n", "[vnet]\nprevent_destory = true\n");
    expect_error(
        &text,
        "specs/shop/net.toml:7:1",
        "vnet.prevent_destory",
        &[
            "unknown key `prevent_destory` in `vnet`",
            "help: did you mean `prevent_destroy`?",
            "7 | prevent_destory = true\n  | ^^^^^^^^^^^^^^^",
        ],
    );
}

#[test]
fn missing_key() {
    let text = NET_SHOP.replace("type = \"Microsoft.Network/virtualNetworks\"\n", "");
    expect_error(
        &text,
        "specs/shop/net.toml:6:2",
        "vnet.type",
        &["missing key `type` in `vnet`", "add `type = ...`"],
    );
}

#[test]
fn missing_placement_property() {
    let text = NET_SHOP.replace(
        "properties.resource_group = \"${net.rg.name}\"\n",
        "properties.location = \"eastus\"\n",
    );
    expect_error(
        &text,
        "specs/shop/net.toml:9:1",
        "vnet.properties.resource_group",
        &["Microsoft.Network/virtualNetworks resources need property `resource_group`"],
    );
}

#[test]
fn unknown_type_suggests_nearest() {
    let text = NET_SHOP.replace(
        "Microsoft.Network/virtualNetworks",
        "Microsoft.Network/virtualNetwork",
    );
    expect_error(
        &text,
        "specs/shop/net.toml:7:8",
        "vnet.type",
        &[
            "unknown resource type `Microsoft.Network/virtualNetwork`",
            "did you mean `Microsoft.Network/virtualNetworks`?",
        ],
    );
}

#[test]
fn dangling_reference_names_the_missing_address() {
    let text = NET_SHOP.replace("${net.rg.name}", "${net.rgg.name}");
    expect_error(
        &text,
        "specs/shop/net.toml:9:29",
        "vnet.properties.resource_group",
        &[
            "`net.vnet` references `net.rgg`, which is not declared",
            "did you mean `net.rg`?",
        ],
    );
}

#[test]
fn dangling_depends_on() {
    let text = NET_SHOP.replace("[vnet]\n", "[vnet]\ndepends_on = [\"data.db\"]\n");
    expect_error(
        &text,
        "specs/shop/net.toml:7:15",
        "vnet.depends_on[0]",
        &["`net.vnet` depends on `data.db`, which is not declared"],
    );
}

#[test]
fn unknown_attribute_lists_known_ones() {
    let text = NET_SHOP.replace("${net.rg.name}", "${net.rg.fqdn}");
    expect_error(
        &text,
        "specs/shop/net.toml:9:29",
        "vnet.properties.resource_group",
        &[
            "`net.rg` (Microsoft.Resources/resourceGroups) has no attribute `fqdn`",
            "known attributes: id, name, location",
        ],
    );
}

#[test]
fn cycle_is_printed() {
    let text = format!(
        "{NET_SHOP}\n[a]\ntype = \"Microsoft.Network/networkSecurityGroups\"\nname = \"a\"\nproperties.resource_group = \"${{net.rg.name}}\"\ndepends_on = [\"net.b\"]\n\n[b]\ntype = \"Microsoft.Network/networkSecurityGroups\"\nname = \"b\"\nproperties.resource_group = \"${{net.rg.name}}\"\nproperties.peer = \"${{net.a.id}}\"\n"
    );
    expect_error(
        &text,
        "specs/shop/net.toml:15:15",
        "net.a",
        &[
            "dependency cycle: net.a -> net.b -> net.a",
            "break the cycle",
        ],
    );
}

#[test]
fn self_reference_is_a_cycle() {
    let text = NET_SHOP.replace(
        "properties.resource_group = \"${net.rg.name}\"",
        "properties.resource_group = \"${net.vnet.name}\"",
    );
    expect_error(
        &text,
        "specs/shop/net.toml:9:29",
        "vnet.properties.resource_group",
        &["`net.vnet` references itself"],
    );
}

#[test]
fn duplicate_toml_key() {
    let text = format!("{NET_SHOP}\n[vnet]\ntype = \"x\"\n");
    expect_error(
        &text,
        "specs/shop/net.toml:11:2",
        "vnet",
        &["duplicate key", "declared once per file"],
    );
}

#[test]
fn duplicate_azure_resource() {
    let text = format!(
        "{NET_SHOP}\n[vnet2]\ntype = \"Microsoft.Network/virtualNetworks\"\nname = \"${{var.product}}-vnet\"\nproperties.resource_group = \"${{net.rg.name}}\"\n"
    );
    expect_error(
        &text,
        "specs/shop/net.toml:11:2",
        "net.vnet2",
        &[
            "`net.vnet2` declares the same Microsoft.Network/virtualNetworks `shop-vnet` as `net.vnet`",
        ],
    );
}

#[test]
fn undefined_variable() {
    let text = NET_SHOP.replace("${var.product}-vnet", "${var.prodct}-vnet");
    expect_error(
        &text,
        "specs/shop/net.toml:8:8",
        "vnet.name",
        &[
            "undefined variable `prodct` in environment `dev`",
            "did you mean `${var.product}`?",
        ],
    );
}

#[test]
fn unterminated_interpolation() {
    let text = NET_SHOP.replace("${var.product}-vnet", "${var.product-vnet");
    expect_error(
        &text,
        "specs/shop/net.toml:8:8",
        "vnet.name",
        &["unterminated `${`"],
    );
}

#[test]
fn wrong_value_type() {
    let text = NET_SHOP.replace("[vnet]\n", "[vnet]\nprevent_destroy = \"yes\"\n");
    expect_error(
        &text,
        "specs/shop/net.toml:7:19",
        "vnet.prevent_destroy",
        &["`vnet.prevent_destroy` must be a boolean (true or false), not a string"],
    );
}

#[test]
fn tags_on_untaggable_type() {
    let text = format!(
        "{NET_SHOP}\n[sub]\ntype = \"Microsoft.Network/virtualNetworks/subnets\"\nname = \"s\"\nproperties.parent = \"${{net.vnet.id}}\"\ntags.x = \"y\"\n"
    );
    expect_error(
        &text,
        "specs/shop/net.toml:15:1",
        "sub.tags",
        &["Microsoft.Network/virtualNetworks/subnets resources cannot carry tags"],
    );
}

#[test]
fn environment_file_errors_name_the_file() {
    let p = Project::minimal();
    p.write(
        "environments/dev.toml",
        &format!("{}zone_redundnat = true\n", util::ENV_DEV),
    );
    let run = p.run(&["validate"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("--> environments/dev.toml:5:1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("= key: environment.zone_redundnat"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `zone_redundant`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn several_errors_are_all_reported() {
    let text = NET_SHOP
        .replace("${net.rg.name}", "${net.nope.name}")
        .replace("[rg]\n", "[rg]\ncolour = 1\n");
    let p = Project::minimal();
    p.write("specs/shop/net.toml", &text);
    let run = p.run(&["validate"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("invalid shop/dev: 2 error(s)"),
        "{}",
        run.stdout
    );
}

#[test]
fn invalid_input_leaves_nothing_behind_and_usage_errors_exit_2() {
    let p = Project::minimal();
    let run = p.run(&["validate", "--bogus"]);
    assert_eq!(run.code, 2);
    let run = p.run(&["validate", "--estate", "nope"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no estate `nope`"), "{}", run.stderr);
    assert!(run.stderr.contains("known estates: shop"), "{}", run.stderr);
    let run = p.run(&["graph", "--estate", "shop", "--env", "qa"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no environment `qa`"), "{}", run.stderr);
}

/// A minimal project with generation 1 of shop/dev applied, and what a
/// reader sees of its state, to prove a broken spec changes none of it.
fn applied_project() -> (Project, String) {
    let p = Project::minimal();
    let run = p.run(&[
        "apply",
        "--estate",
        "shop",
        "--env",
        "dev",
        "--version",
        "v1.0.0",
        "--auto-approve",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let state = state_of(&p);
    (p, state)
}

fn state_of(p: &Project) -> String {
    let list = p.run(&["state", "list", "--estate", "shop", "--env", "dev"]);
    let sim = p.run(&["sim", "list", "--json"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(sim.code, 0, "{}", sim.stderr);
    format!("{}\n{}", list.stdout, sim.stdout)
}

/// `validate` and `apply` both refuse the broken project with exactly one
/// error, at `location` with `fragments`, and the state is as it was.
fn refused_once(p: &Project, before: &str, location: &str, fragments: &[&str]) {
    let validate = p.run(&["validate"]);
    let apply = p.run(&[
        "apply",
        "--estate",
        "shop",
        "--env",
        "dev",
        "--version",
        "v2.0.0",
        "--auto-approve",
    ]);
    for run in [&validate, &apply] {
        assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        assert_eq!(
            run.stderr.matches("error: ").count(),
            // validate adds its summary line; apply prints the spec error only.
            if std::ptr::eq(run, &validate) { 2 } else { 1 },
            "want one spec error in:\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("--> {location}")),
            "want {location} in:\n{}",
            run.stderr
        );
        for f in fragments {
            assert!(run.stderr.contains(f), "want {f:?} in:\n{}", run.stderr);
        }
    }
    assert!(
        validate.stdout.contains("invalid shop/dev: 1 error(s)"),
        "{}",
        validate.stdout
    );
    assert_eq!(state_of(p), before, "a refused spec changed the state");
}

#[test]
fn unknown_time_zone_in_maintenance_window() {
    let (p, before) = applied_project();
    p.write(
        "environments/dev.toml",
        &format!(
            "{}\n[maintenance_window]\ndays = [\"sunday\"]\nstart = \"02:00\"\nend = \"06:00\"\ntimezone = \"America/Nwe_York\"\n",
            util::ENV_DEV
        ),
    );
    refused_once(
        &p,
        &before,
        "environments/dev.toml:10:12",
        &[
            "error: unknown time zone `America/Nwe_York`",
            "= key: maintenance_window.timezone",
            "help: did you mean \"America/New_York\"?",
        ],
    );
}

#[test]
fn non_utf8_byte_is_one_error_with_line_and_column() {
    let (p, before) = applied_project();
    // net.toml holds rg and vnet, which others could reference: one error
    // for the file, none for what depends on it.
    let mut bytes = util::NET_SHOP.as_bytes().to_vec();
    let at = util::NET_SHOP.find("-vnet").unwrap();
    bytes.splice(at..at, [0xff, 0xfe]);
    p.write_bytes("specs/shop/net.toml", &bytes);
    p.write(
        "specs/shop/app.toml",
        "[nsg]\ntype = \"Microsoft.Network/networkSecurityGroups\"\nname = \"n\"\nproperties.resource_group = \"${net.rg.name}\"\n",
    );
    refused_once(
        &p,
        &before,
        "specs/shop/net.toml:8:23",
        &[
            "error: file is not UTF-8 (invalid byte 0xff)",
            "save the file as UTF-8",
        ],
    );
    let run = p.run(&["validate"]);
    assert!(!run.stderr.contains("offset"), "{}", run.stderr);
    assert!(!run.stderr.contains("not declared"), "{}", run.stderr);
}

#[test]
fn variable_that_uses_itself_is_one_cycle_error() {
    let (p, before) = applied_project();
    p.write(
        "specs/shop/estate.toml",
        &util::ESTATE_SHOP.replace("product = \"shop\"", "product = \"${var.product}\""),
    );
    refused_once(
        &p,
        &before,
        "specs/shop/estate.toml:9:11",
        &[
            "error: variable `product` uses itself",
            "= key: vars.product",
        ],
    );
    let run = p.run(&["validate"]);
    assert!(!run.stderr.contains("undefined variable"), "{}", run.stderr);
}

#[test]
fn variables_in_a_cycle_are_one_error_naming_it() {
    let (p, before) = applied_project();
    p.write(
        "specs/shop/estate.toml",
        &util::ESTATE_SHOP.replace(
            "product = \"shop\"",
            "product = \"${var.brand}\"\nbrand = \"${var.product}-x\"",
        ),
    );
    refused_once(
        &p,
        &before,
        "specs/shop/estate.toml:",
        &[
            "error: variables use each other in a cycle: ",
            "product",
            "brand",
        ],
    );
    let run = p.run(&["validate"]);
    assert!(!run.stderr.contains("undefined variable"), "{}", run.stderr);
}
