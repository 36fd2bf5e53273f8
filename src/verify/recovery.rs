use std::collections::BTreeMap;

use super::Finding;
use crate::catalog::{self, Backup, ResourceType};
use crate::model::{Address, Estate, Floor, Interval, Objectives, Resource, RestoreReport, Value};

/// The most data a restore of `r` can lose, from its backup settings; `None`
/// when it keeps no backup it can be restored from.
pub fn rpo_worst_case(rt: &ResourceType, r: &Resource) -> Option<Interval> {
    let int = |k: &str| r.property(k).and_then(Value::as_int);
    match rt.backup? {
        Backup::PointInTime {
            retention_days,
            granularity_secs,
        } => (int(retention_days).unwrap_or(7) > 0)
            .then(|| Interval::from_secs(u64::from(granularity_secs))),
        Backup::Snapshot { interval_minutes } => {
            if r.property("rdb_backup_enabled") == Some(&Value::Bool(false)) {
                return None;
            }
            Some(Interval::from_mins(
                u64::try_from(int(interval_minutes).unwrap_or(60)).unwrap_or(60),
            ))
        }
        Backup::GeoReplica {
            replication,
            lag_secs,
        } => {
            let kind = r
                .property(replication)
                .and_then(Value::as_str)
                .unwrap_or("LRS")
                .to_ascii_uppercase();
            (kind.contains("GRS") || kind.contains("GZRS"))
                .then(|| Interval::from_secs(u64::from(lag_secs)))
        }
        Backup::SoftDelete { .. } => Some(Interval::from_secs(0)),
    }
}

/// The time to bring the whole estate back, along its critical path: a
/// resource with a backup costs its restore time, any other its create time
/// (catalog durations). Returns the estimate and the path's last resource.
pub fn rto_estimate(estate: &Estate) -> (Interval, Option<Address>) {
    let mut finish: BTreeMap<&Address, u64> = BTreeMap::new();
    let mut best: (u64, Option<&Address>) = (0, None);
    for a in estate.graph().order() {
        let Some(r) = estate.resource(a) else {
            continue;
        };
        let cost = catalog::lookup(&r.arm_type).map_or(0, |rt| {
            let t = rt.timing;
            if rt.backup.is_some() {
                t.restore.unwrap_or(t.create)
            } else {
                t.create
            }
        });
        let start = estate
            .graph()
            .dependencies(a)
            .filter_map(|d| finish.get(d))
            .copied()
            .max()
            .unwrap_or(0);
        let end = start + u64::from(cost);
        finish.insert(a, end);
        if end > best.0 {
            best = (end, Some(a));
        }
    }
    (Interval::from_secs(best.0), best.1.cloned())
}

pub(super) fn check(estate: &Estate, o: &Objectives, drills: &[RestoreReport]) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in estate.resources().values() {
        let Ok(rt) = catalog::lookup(&r.arm_type) else {
            continue;
        };
        if !rt.stateful || rt.backup.is_none() {
            continue;
        }
        // Cosmos DB on periodic backups loses up to its interval (default
        // 4 hours), whatever the catalog says of continuous backup.
        let periodic = (r.arm_type == "Microsoft.DocumentDB/databaseAccounts"
            && r.property("backup_policy.type").and_then(Value::as_str) == Some("Periodic"))
        .then(|| {
            let mins = r
                .property("backup_policy.interval_in_minutes")
                .and_then(Value::as_int)
                .unwrap_or(240);
            Interval::from_secs(u64::try_from(mins).unwrap_or(0).saturating_mul(60))
        });
        match periodic.or_else(|| rpo_worst_case(rt, r)) {
            Some(loss) if loss <= o.rpo => {}
            Some(loss) => out.push(Finding::new(
                "recovery.rpo",
                Some(&r.address),
                format!("a restore of `{}` can lose up to {loss} of data, over the RPO of {}", r.name, o.rpo),
                "back it up more often (snapshot interval, continuous backup, geo-redundant replication)",
            ).measuring(loss)),
            None => out.push(Finding::new("recovery.rpo", Some(&r.address), format!("`{}` keeps no backup it can be restored from", r.name), "enable backups (retention, RDB persistence, or GRS replication)")),
        }
    }
    let (rto, last) = rto_estimate(estate);
    if rto > o.rto {
        out.push(Finding::new(
            "recovery.rto",
            last.as_ref(),
            format!("restoring the estate takes {rto} along its critical path (ending at {}), over the RTO of {}", last.as_ref().map_or("-".into(), ToString::to_string), o.rto),
            "shorten the critical path (warm standby, geo-replicas to fail over to) or revise the objective",
        ).measuring(rto));
    }
    for d in drills {
        if Interval::from_secs(d.data_loss_secs) > o.rpo {
            out.push(
                Finding::new(
                    "recovery.drill",
                    Some(&d.address),
                    format!(
                        "the drill restore lost {} of data, over the RPO of {}",
                        Interval::from_secs(d.data_loss_secs),
                        o.rpo
                    ),
                    "see recovery.rpo",
                )
                .measuring(Interval::from_secs(d.data_loss_secs)),
            );
        }
        if Interval::from_secs(d.elapsed_secs) > o.rto {
            out.push(
                Finding::new(
                    "recovery.drill",
                    Some(&d.address),
                    format!(
                        "the drill restore took {}, over the RTO of {}",
                        Interval::from_secs(d.elapsed_secs),
                        o.rto
                    ),
                    "see recovery.rto",
                )
                .measuring(Interval::from_secs(d.elapsed_secs)),
            );
        }
    }
    out
}

/// The monthly estimate in US cents (catalog prices plus cost lines), and
/// the resources no seed prices.
pub fn monthly_cost(estate: &Estate) -> (u64, Vec<Address>) {
    let mut cents: u64 = estate.cost_items.iter().map(|c| c.usd_cents).sum();
    let mut unpriced = Vec::new();
    for r in estate.resources().values() {
        match catalog::lookup(&r.arm_type)
            .ok()
            .and_then(|rt| catalog::price(rt, &r.properties))
        {
            Some((c, _)) => cents += c,
            None => unpriced.push(r.address.clone()),
        }
    }
    (cents, unpriced)
}

pub(super) fn check_cost(estate: &Estate, o: &Objectives) -> Vec<Finding> {
    let Some(budget) = o.monthly_budget_usd else {
        return Vec::new();
    };
    let (cents, unpriced) = monthly_cost(estate);
    let mut out = Vec::new();
    if cents > budget * 100 {
        out.push(Finding::new(
            "cost.budget",
            None,
            format!(
                "the monthly estimate is ${}.{:02}, over the budget of ${budget}",
                cents / 100,
                cents % 100
            ),
            "scale down, or raise the budget in estate.toml",
        ));
    }
    // A resource with no price is not free: the estimate cannot be held to
    // the budget while it leaves one out (a bigger SKU would "cost" less).
    for a in unpriced {
        let Some(r) = estate.resource(&a) else {
            continue;
        };
        out.push(Finding::new(
            "cost.budget",
            Some(&a),
            format!("{} `{}` has no price for these settings{}: the estimate of ${}.{:02} leaves it out", r.arm_type, r.name, sizing(r), cents / 100, cents % 100),
            "use a size the catalog prices (src/catalog/types.rs, with the source of each price), or add this one with its source",
        ));
    }
    out
}

/// The sizing properties of `r`, for a message (`sku_name = "Premium"`).
fn sizing(r: &Resource) -> String {
    let keys = [
        "sku",
        "sku_name",
        "family",
        "capacity",
        "account_tier",
        "account_replication_type",
        "vm_size",
    ];
    let parts: Vec<String> = keys
        .iter()
        .filter_map(|k| r.property(k).map(|v| format!("{k} = {}", v.to_json())))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// Database backups kept at least as long as the baseline says (seed 000
/// and 001: 35 days; seed 004: 30).
pub(super) fn check_retention(estate: &Estate, floor: &Floor) -> Vec<Finding> {
    let Some(days) = floor.backup_retention_days else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // Cosmos DB's continuous backup keeps 7 or 30 days (Azure's most):
    // the baseline's figure, capped at 30.
    for r in estate.of_type("Microsoft.DocumentDB/databaseAccounts") {
        if r.property("backup_policy.tier").and_then(Value::as_str) == Some("Continuous7Days")
            && days > 7
        {
            out.push(Finding::new("recovery.backup-retention", Some(&r.address), format!("`{}` keeps 7 days of continuous backup, under the baseline's {days} (Azure allows 30)", r.name), "set `backup_policy = { type = \"Continuous\", tier = \"Continuous30Days\" }`"));
        }
    }
    for r in estate.of_type("Microsoft.DBforPostgreSQL/flexibleServers") {
        if r.property("source_server_id").is_some() {
            // A replica: its backups are its primary's.
            continue;
        }
        let have = r.property("backup_retention_days").and_then(Value::as_int);
        if have.is_none_or(|d| d < i64::from(days)) {
            let shown = have.map_or("the default 7 days".to_string(), |d| format!("{d} days"));
            out.push(Finding::new(
                "recovery.backup-retention",
                Some(&r.address),
                format!(
                    "`{}` keeps backups {shown}, under the baseline's {days}",
                    r.name
                ),
                format!("set `backup_retention_days = {days}` (or more)"),
            ));
        }
    }
    out
}

/// A live stack drilled at least as often as the baseline says (seed 000
/// "Monthly restore testing", seed 001 "Quarterly full failover drills").
pub(super) fn check_cadence(floor: &Floor, age: Option<super::DrillAge>) -> Vec<Finding> {
    use super::DrillAge;
    let (Some(every), Some(age)) = (floor.drill_every, age) else {
        return Vec::new();
    };
    let fix = "run a restore drill: an emergency `statectl apply --replace` of a stateful resource (docs/verify.md, Drills), recorded in history";
    match age {
        DrillAge::NotLive => Vec::new(),
        DrillAge::Never { live_for } if live_for > every => vec![Finding::new(
            "recovery.drill",
            None,
            format!("live for {live_for} and never drilled; the baseline asks for a drill every {every}"),
            fix,
        )
        .measuring(live_for)],
        DrillAge::Last { ago } if ago > every => vec![Finding::new(
            "recovery.drill",
            None,
            format!("the last restore drill was {ago} ago; the baseline asks for one every {every}"),
            fix,
        )
        .measuring(ago)],
        _ => Vec::new(),
    }
}
