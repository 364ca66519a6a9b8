//! CreateScheduleGroup, GetScheduleGroup, DeleteScheduleGroup, ListScheduleGroups, and the tags
//! of schedule groups (TagResource, UntagResource, ListTagsForResource: AWS tags groups, not
//! schedules; botocore's `TagResourceArn` names only `schedule-group/` ARNs).

use hako_model::validation::{Constraint, Violations};

use crate::error::{Error, Result};
use crate::model::{self, shapes};
use crate::schedules::{decode_token, encode_token, page};
use crate::storage::{self, GroupRow};
use crate::wire::{
    CreateScheduleGroupInput, CreateScheduleGroupOutput, ListScheduleGroupsInput,
    ListScheduleGroupsOutput, ListTagsForResourceOutput, ScheduleGroupSummary, Tag,
};
use crate::{seconds, Scheduler};

fn check_tags(tags: &[Tag], v: &mut Violations) {
    if tags.len() > shapes::MAX_TAGS {
        v.push(
            Some(&format!("{} tags", tags.len())),
            "tags",
            Constraint::MaxLength(shapes::MAX_TAGS),
        );
    }
    for (i, t) in tags.iter().enumerate() {
        let n = i + 1;
        if let Some(k) = v.required(&format!("tags.{n}.member.key"), t.key.as_deref()) {
            v.string(&format!("tags.{n}.member.key"), k, &shapes::TAG_KEY);
        }
        if let Some(val) = v.required(&format!("tags.{n}.member.value"), t.value.as_deref()) {
            v.string(&format!("tags.{n}.member.value"), val, &shapes::TAG_VALUE);
        }
    }
}

fn tags_of(row: &GroupRow) -> Result<Vec<Tag>> {
    serde_json::from_str(&row.tags)
        .map_err(|e| Error::internal(format!("stored tags do not decode: {e}")))
}

/// `tags` merged into `old`: a key given again takes its new value.
fn merge(old: Vec<Tag>, tags: &[Tag]) -> Vec<Tag> {
    let mut out: Vec<Tag> = old
        .into_iter()
        .filter(|o| !tags.iter().any(|t| t.key == o.key))
        .collect();
    for t in tags {
        if !out.iter().any(|o| o.key == t.key) {
            out.push(t.clone());
        }
    }
    out
}

impl Scheduler {
    fn summary(&self, g: &GroupRow) -> ScheduleGroupSummary {
        ScheduleGroupSummary {
            arn: self.group_arn(&g.name),
            name: g.name.clone(),
            state: "ACTIVE".to_string(),
            creation_date: seconds(g.created_ms),
            last_modification_date: seconds(g.modified_ms),
        }
    }

    pub fn create_schedule_group(
        &self,
        name: &str,
        input: CreateScheduleGroupInput,
    ) -> Result<CreateScheduleGroupOutput> {
        let mut v = Violations::new();
        v.string("name", name, &shapes::NAME);
        let tags = input.tags.unwrap_or_default();
        check_tags(&tags, &mut v);
        v.opt_string(
            "clientToken",
            input.client_token.as_deref(),
            &shapes::CLIENT_TOKEN,
        );
        v.finish()?;
        let now = self.now();
        let encoded = serde_json::to_string(&merge(Vec::new(), &tags))
            .map_err(|e| Error::internal(e.to_string()))?;
        let token = input.client_token;
        self.inner.db.write(|tx| {
            if let Some(old) = storage::group(tx, name)? {
                if token.is_some() && old.token == token {
                    return Ok(Ok(()));
                }
                return Ok(Err(Error::group_exists(name)));
            }
            storage::insert_group(tx, name, now, &encoded, token.as_deref())?;
            Ok(Ok(()))
        })??;
        Ok(CreateScheduleGroupOutput {
            schedule_group_arn: self.group_arn(name),
        })
    }

    pub fn get_schedule_group(&self, name: &str) -> Result<ScheduleGroupSummary> {
        let mut v = Violations::new();
        v.string("name", name, &shapes::NAME);
        v.finish()?;
        let g = self
            .inner
            .db
            .read(|c| storage::group(c, name))?
            .ok_or_else(|| Error::group_not_found(name))?;
        Ok(self.summary(&g))
    }

    /// Deletes a group and every schedule in it (AWS deletes them with it).
    pub fn delete_schedule_group(&self, name: &str, client_token: Option<&str>) -> Result<()> {
        let mut v = Violations::new();
        v.string("name", name, &shapes::NAME);
        v.opt_string("clientToken", client_token, &shapes::CLIENT_TOKEN);
        v.finish()?;
        if name == model::DEFAULT_GROUP {
            return Err(Error::default_group_kept());
        }
        if !self.inner.db.write(|tx| storage::delete_group(tx, name))? {
            return Err(Error::group_not_found(name));
        }
        self.changed();
        Ok(())
    }

    pub fn list_schedule_groups(
        &self,
        i: ListScheduleGroupsInput,
    ) -> Result<ListScheduleGroupsOutput> {
        let mut v = Violations::new();
        v.opt_string("namePrefix", i.name_prefix.as_deref(), &shapes::NAME);
        v.opt_string("nextToken", i.next_token.as_deref(), &shapes::NEXT_TOKEN);
        v.opt_integer("maxResults", i.max_results, &shapes::MAX_RESULTS);
        v.finish()?;
        let after = match &i.next_token {
            Some(t) => decode_token(t)?.1,
            None => String::new(),
        };
        let limit = page(i.max_results);
        let rows = self.inner.db.read(|c| {
            storage::groups(
                c,
                i.name_prefix.as_deref().unwrap_or_default(),
                &after,
                limit + 1,
            )
        })?;
        let more = rows.len() > limit;
        let rows = &rows[..rows.len().min(limit)];
        let next_token = match (more, rows.last()) {
            (true, Some(last)) => Some(encode_token("", &last.name)),
            _ => None,
        };
        Ok(ListScheduleGroupsOutput {
            next_token,
            schedule_groups: rows.iter().map(|g| self.summary(g)).collect(),
        })
    }

    /// The group a tag operation's ARN names, which must exist.
    fn tagged_group(&self, arn: &str, v: Violations) -> Result<GroupRow> {
        let mut v = v;
        v.string("resourceArn", arn, &shapes::TAG_RESOURCE_ARN);
        v.finish()?;
        let cfg = &self.inner.cfg;
        let name = model::group_of_arn(arn, &cfg.region, &cfg.account_id)
            .ok_or_else(|| Error::group_not_found(arn))?;
        self.inner
            .db
            .read(|c| storage::group(c, name))?
            .ok_or_else(|| Error::group_not_found(name))
    }

    pub fn tag_resource(&self, arn: &str, tags: Option<Vec<Tag>>) -> Result<()> {
        let mut v = Violations::new();
        let tags = v.required("tags", tags).unwrap_or_default();
        check_tags(&tags, &mut v);
        let g = self.tagged_group(arn, v)?;
        let merged = merge(tags_of(&g)?, &tags);
        let encoded = serde_json::to_string(&merged).map_err(|e| Error::internal(e.to_string()))?;
        let now = self.now();
        self.inner
            .db
            .write(|tx| storage::set_tags(tx, &g.name, &encoded, now))?;
        Ok(())
    }

    pub fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<()> {
        let mut v = Violations::new();
        v.list("tagKeys", keys, &shapes::TAG_KEYS);
        let g = self.tagged_group(arn, v)?;
        let kept: Vec<Tag> = tags_of(&g)?
            .into_iter()
            .filter(|t| !keys.iter().any(|k| Some(k) == t.key.as_ref()))
            .collect();
        let encoded = serde_json::to_string(&kept).map_err(|e| Error::internal(e.to_string()))?;
        let now = self.now();
        self.inner
            .db
            .write(|tx| storage::set_tags(tx, &g.name, &encoded, now))?;
        Ok(())
    }

    pub fn list_tags_for_resource(&self, arn: &str) -> Result<ListTagsForResourceOutput> {
        let g = self.tagged_group(arn, Violations::new())?;
        Ok(ListTagsForResourceOutput { tags: tags_of(&g)? })
    }
}
