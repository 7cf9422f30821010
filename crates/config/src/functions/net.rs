//! Network functions over CIDR prefixes, IPv4 and IPv6, as Terraform's
//! `cidrhost`, `cidrnetmask`, `cidrsubnet` and `cidrsubnets`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use kiln_model::Value;

use super::{FnError, arg_err, int_arg, string_arg};

/// A network as integers: its first address, address width and prefix.
#[derive(Clone, Copy)]
struct Net {
    base: u128,
    width: u32,
    prefix: u32,
}

impl Net {
    /// The number of addresses in a prefix of `len` bits, `None` for 2^128.
    fn size(&self, len: u32) -> Option<u128> {
        1u128.checked_shl(self.width - len)
    }

    fn addr(&self, n: u128) -> IpAddr {
        if self.width == 32 {
            IpAddr::V4(Ipv4Addr::from(n as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from(n))
        }
    }
}

fn parse_net(args: &[Value], i: usize) -> Result<Net, FnError> {
    let s = string_arg(args, i)?;
    let net: IpNet = s.parse().map_err(|_| {
        arg_err(
            i,
            format!(
                "invalid CIDR expression: {}",
                Value::String(s.clone().into())
            ),
        )
    })?;
    let net = net.trunc();
    Ok(match net {
        IpNet::V4(n) => Net {
            base: u32::from(n.network()) as u128,
            width: 32,
            prefix: n.prefix_len() as u32,
        },
        IpNet::V6(n) => Net {
            base: u128::from(n.network()),
            width: 128,
            prefix: n.prefix_len() as u32,
        },
    })
}

pub(super) fn cidrhost(args: Vec<Value>) -> Result<Value, FnError> {
    let net = parse_net(&args, 0)?;
    let host = int_arg(&args, 1)?;
    let too_big = || {
        arg_err(
            1,
            format!(
                "prefix of {} bits cannot accommodate a host numbered {host}",
                net.prefix
            ),
        )
    };
    let size = net.size(net.prefix);
    let offset: u128 = if host >= 0 {
        host as u128
    } else {
        match size {
            Some(size) => size
                .checked_sub(host.unsigned_abs() as u128)
                .ok_or_else(too_big)?,
            None => u128::MAX - (host.unsigned_abs() as u128 - 1),
        }
    };
    if size.is_some_and(|s| offset >= s) {
        return Err(too_big());
    }
    Ok(Value::String(
        net.addr(net.base + offset).to_string().into(),
    ))
}

pub(super) fn cidrnetmask(args: Vec<Value>) -> Result<Value, FnError> {
    let net = parse_net(&args, 0)?;
    if net.width != 32 {
        return Err(arg_err(0, "IPv6 addresses cannot have a netmask"));
    }
    let mask = u32::MAX.checked_shl(32 - net.prefix).unwrap_or(0);
    Ok(Value::String(Ipv4Addr::from(mask).to_string().into()))
}

fn subnet(net: Net, newbits: i64, netnum: i64, args_at: (usize, usize)) -> Result<Net, FnError> {
    if newbits < 0 {
        return Err(arg_err(args_at.0, "newbits must not be negative"));
    }
    let len = net.prefix as i64 + newbits;
    if len > net.width as i64 {
        return Err(arg_err(
            args_at.0,
            format!(
                "insufficient address space to extend prefix of {} by {newbits}",
                net.prefix
            ),
        ));
    }
    let len = len as u32;
    let count = 1u128.checked_shl(newbits as u32).unwrap_or(u128::MAX);
    if netnum < 0 || netnum as u128 >= count {
        return Err(arg_err(
            args_at.1,
            format!(
                "prefix extension of {newbits} does not accommodate a subnet numbered {netnum}"
            ),
        ));
    }
    let size = net.size(len).unwrap_or(0);
    Ok(Net {
        base: net.base + netnum as u128 * size,
        width: net.width,
        prefix: len,
    })
}

fn show(net: Net) -> Value {
    Value::String(format!("{}/{}", net.addr(net.base), net.prefix).into())
}

pub(super) fn cidrsubnet(args: Vec<Value>) -> Result<Value, FnError> {
    let net = parse_net(&args, 0)?;
    let newbits = int_arg(&args, 1)?;
    let netnum = int_arg(&args, 2)?;
    Ok(show(subnet(net, newbits, netnum, (1, 2))?))
}

/// Consecutive subnets of the given sizes, each aligned to its own size.
pub(super) fn cidrsubnets(args: Vec<Value>) -> Result<Value, FnError> {
    let net = parse_net(&args, 0)?;
    let end = net
        .size(net.prefix)
        .map(|s| net.base + (s - 1))
        .unwrap_or(u128::MAX);
    let mut next = Some(net.base);
    let mut out = Vec::new();
    for i in 1..args.len() {
        let newbits = int_arg(&args, i)?;
        if newbits < 1 {
            return Err(arg_err(i, "must extend prefix by at least one bit"));
        }
        let len = net.prefix as i64 + newbits;
        if len > net.width as i64 {
            return Err(arg_err(
                i,
                format!(
                    "would extend prefix to {len} bits, which is too long for an IPv{} address",
                    if net.width == 32 { 4 } else { 6 }
                ),
            ));
        }
        let len = len as u32;
        let size = net.size(len).unwrap_or(u128::MAX);
        let no_room = || {
            arg_err(
                i,
                format!(
                    "not enough remaining address space for a subnet with a prefix of {len} bits"
                ),
            )
        };
        let cur = next.ok_or_else(no_room)?;
        let start = cur.div_ceil(size).checked_mul(size).ok_or_else(no_room)?;
        let last = start.checked_add(size - 1).ok_or_else(no_room)?;
        if last > end {
            return Err(no_room());
        }
        out.push(show(Net {
            base: start,
            width: net.width,
            prefix: len,
        }));
        next = last.checked_add(1);
    }
    Ok(Value::List(out.into()))
}
