//! xdpdrop's packet counters read from per-CPU maps, and its periodic
//! counter table (`TIME PKT/S PKTS BYTES COUNTER`).

use anyhow::Result;
use libbpf_rs::MapCore;
use serde::Serialize;

use corescope::output::{Col, Row, Table};
use corescope::stream::sum_u64;

/// A packets + bytes counter (`struct { __u64 packets; __u64 bytes; }`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Count {
    pub packets: u64,
    pub bytes: u64,
}

impl std::ops::Add for Count {
    type Output = Count;
    fn add(self, o: Count) -> Count {
        Count {
            packets: self.packets + o.packets,
            bytes: self.bytes + o.bytes,
        }
    }
}

impl std::iter::Sum for Count {
    fn sum<I: Iterator<Item = Count>>(it: I) -> Count {
        it.fold(Count::default(), |a, b| a + b)
    }
}

/// Slots `0..n` of a per-CPU array of [`Count`]s, summed over the CPUs.
pub fn counts(map: &dyn MapCore, n: usize) -> Result<Vec<Count>> {
    (0..n as u32)
        .map(|k| {
            sum_u64(map, k, 2).map(|v| Count {
                packets: v[0],
                bytes: v[1],
            })
        })
        .collect()
}

/// One counter over one interval (or over the whole run: `time` None, shown
/// as `total`). In JSON: `key`'s fields, `name`, the totals, the interval's
/// packets and the rate; the table shows `label` in the COUNTER column.
#[derive(Debug, Serialize)]
pub struct CounterRow<K: Serialize> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(flatten)]
    pub key: K,
    pub name: String,
    #[serde(skip)]
    pub label: String,
    #[serde(flatten)]
    pub total: Count,
    pub interval_packets: u64,
    pub pps: f64,
}

impl<K: Serialize> CounterRow<K> {
    /// The row for a counter that went from `prev` to `now` in `secs` seconds.
    pub fn new(
        time: Option<&str>,
        key: K,
        name: String,
        label: String,
        now: Count,
        prev: Count,
        secs: f64,
    ) -> Self {
        let n = now.packets.saturating_sub(prev.packets);
        Self {
            time: time.map(str::to_string),
            key,
            name,
            label,
            total: now,
            interval_packets: n,
            pps: n as f64 / secs.max(1e-3),
        }
    }
}

/// The counter table: `TIME PKT/S PKTS BYTES COUNTER`.
impl<K: Serialize> Row for CounterRow<K> {
    type Opts = ();
    fn columns(t: &mut Table<'_, '_, Self>, _: &()) {
        t.col(Col::left("TIME", 8), |r, c| {
            c.put(r.time.as_deref().unwrap_or("total"))
        });
        t.col(Col::right("PKT/S", 12), |r, c| {
            c.put(format_args!("{:.0}", r.pps))
        });
        t.col(Col::right("PKTS", 12), |r, c| c.put(r.total.packets));
        t.col(Col::right("BYTES", 12), |r, c| c.put(r.total.bytes));
        t.col(Col::left("COUNTER", 0), |r, c| c.text(r.label.as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corescope::output::{header_line, json_line, table_line};

    #[derive(Serialize)]
    struct Key {
        rule: usize,
    }

    #[test]
    fn row_rate_table_and_json() {
        let now = Count {
            packets: 1500,
            bytes: 90_000,
        };
        let prev = Count {
            packets: 500,
            bytes: 30_000,
        };
        let r = CounterRow::new(
            Some("12:00:01"),
            Key { rule: 1 },
            "udp".into(),
            "#1 udp".into(),
            now,
            prev,
            2.0,
        );
        assert_eq!(r.interval_packets, 1000);
        assert_eq!(r.pps, 500.0);
        assert_eq!(
            header_line::<CounterRow<Key>>(&()),
            "TIME            PKT/S         PKTS        BYTES COUNTER"
        );
        assert_eq!(
            table_line(&r, &()),
            "12:00:01          500         1500        90000 #1 udp"
        );
        let mut b = Vec::new();
        json_line("rule", &r, &mut b).unwrap();
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "{\"type\":\"rule\",\"schema\":1,\"time\":\"12:00:01\",\"rule\":1,\"name\":\"udp\",\"packets\":1500,\"bytes\":90000,\"interval_packets\":1000,\"pps\":500.0}\n"
        );
        let t = CounterRow::new(
            None,
            Key { rule: 1 },
            "udp".into(),
            "#1 udp".into(),
            now,
            Count::default(),
            3.0,
        );
        assert!(table_line(&t, &()).starts_with("total             500         1500"));
    }
}
