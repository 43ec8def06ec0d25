//! `tokenwarden permission-groups`: the permission-group catalogue of the user or an
//! account, from the API or a snapshot, sorted by name.

use serde_json::Value;
use tokenwarden::cloudflare::ApiPath;
use tokenwarden::exit::Exit;
use tokenwarden::inventory::{Inventory, Owner};
use tokenwarden::text::terminal;

use super::args::{ListFormat, PermissionGroupsArgs};
use super::error::{usage, Error};
use super::session::{print, Session};

pub fn run(args: &PermissionGroupsArgs, session: &Session) -> Result<Exit, Error> {
    let mut groups: Vec<Value> = if let Some(path) = &args.snapshot {
        let inv = Inventory::read(path)?;
        let cat = match &args.account {
            Some(id) => inv
                .accounts
                .iter()
                .find(|a| &a.id == id)
                .ok_or_else(|| usage(format!("account {id} is not in the snapshot")))?
                .permission_groups
                .clone(),
            None => inv.user.as_ref().and_then(|u| u.permission_groups.clone()),
        };
        cat.ok_or_else(|| usage("the snapshot has no permission-group catalogue for this owner"))?
    } else {
        let (client, _) = session.client()?;
        let owner = match &args.account {
            Some(id) => Owner::Account {
                id: id.clone(),
                name: None,
            },
            None => Owner::User { id: None },
        };
        // clap has checked --account; an id that is not one never becomes a path.
        let path = ApiPath::catalogue(&owner).map_err(|e| usage(format!("--account: {e}")))?;
        let rt = session.runtime()?;
        let env = rt.block_on(client.get(&path, &[]))?;
        match env.result {
            Value::Array(g) => g,
            _ => {
                return Err(Error::Api(tokenwarden::cloudflare::ApiError {
                    method: "GET".into(),
                    endpoint: path.to_string(),
                    page: None,
                    kind: tokenwarden::cloudflare::client::ApiErrorKind::Malformed(
                        "`result` is not a list".into(),
                    ),
                }))
            }
        }
    };
    groups.sort_by(|a, b| {
        let k = |v: &Value| {
            v.get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase()
        };
        k(a).cmp(&k(b))
    });
    let text = match args.format {
        ListFormat::Json => {
            let mut t = serde_json::to_string_pretty(&groups).unwrap_or_default();
            t.push('\n');
            t
        }
        ListFormat::Table => {
            let mut t = String::new();
            for g in &groups {
                let s = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let scopes = g
                    .get("scopes")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default();
                // Names come from the API: escaped for the terminal (issue 12).
                t.push_str(&format!(
                    "{:<32}  {:<45}  {}\n",
                    terminal(&s("id")),
                    terminal(&s("name")),
                    terminal(&scopes)
                ));
            }
            t
        }
    };
    print(&text)?;
    Ok(Exit::Ok)
}
