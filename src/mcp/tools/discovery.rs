//! Discovery: what the portal has (object types, properties, owners, pipelines), all from the
//! metadata cache, no record reads.

use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::ToolError;
use crate::mcp::params::Parameters;
use crate::mcp::HubSpotMcp;
use crate::objects::STANDARD_OBJECTS;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoArgs {}

// Which object type.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DescribePropertiesParams {
    /// Object type: `contacts`, `companies`, `deals`, `tickets`, `notes`, `tasks`, or a custom
    /// object's name or id (`2-…`) from `list_object_types`.
    pub object_type: String,
    /// Only properties whose name or label contains this text (case-insensitive).
    #[serde(default)]
    pub name_contains: Option<String>,
    /// Include read-only (system-calculated) properties. Default false.
    #[serde(default)]
    pub include_read_only: bool,
}

/// `list_owners` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListOwnersParams {
    /// Only the owner with this email.
    #[serde(default)]
    pub email: Option<String>,
}

/// `list_pipelines` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListPipelinesParams {
    /// `deals` or `tickets`.
    pub object_type: String,
}

// An object type.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectTypeInfo {
    pub name: String,
    pub object_type_id: String,
    pub custom: bool,
}

/// `list_object_types` output.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListObjectTypesOutput {
    pub object_types: Vec<ObjectTypeInfo>,
}

// An enumeration option.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OptionInfo {
    pub value: String,
    pub label: String,
}

// A property.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PropertyInfo {
    pub name: String,
    pub label: String,
    /// string, number, date, datetime, enumeration, bool, phone_number.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionInfo>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Values are owner ids (see `list_owners`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub owner: bool,
}

/// `describe_properties` output.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DescribePropertiesOutput {
    pub object_type: String,
    pub properties: Vec<PropertyInfo>,
}

// An owner.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OwnerInfo {
    pub id: String,
    pub name: String,
    pub email: String,
    /// PERSON or QUEUE.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `list_owners` output.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOwnersOutput {
    pub owners: Vec<OwnerInfo>,
}

// A stage.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StageInfo {
    pub id: String,
    pub label: String,
    /// Records in this stage are closed (won, lost, resolved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed: Option<bool>,
    /// A deal stage's win probability, 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

// A pipeline.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PipelineInfo {
    pub id: String,
    pub label: String,
    pub stages: Vec<StageInfo>,
}

/// `list_pipelines` output.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListPipelinesOutput {
    pub pipelines: Vec<PipelineInfo>,
}

// Discovery: what the portal has (cached metadata, no record reads).
#[tool_router(router = discovery_router, vis = "pub")]
impl HubSpotMcp {
    /// Lists the CRM object types of this portal.
    #[tool(
        description = "List the portal's CRM object types (standard and custom) with their ids. Start here, then describe_properties. Cached.",
        annotations(
            title = "List object types",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn list_object_types(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<Json<ListObjectTypesOutput>, ToolError> {
        let mut object_types: Vec<ObjectTypeInfo> = STANDARD_OBJECTS
            .iter()
            .map(|o| ObjectTypeInfo {
                name: o.name.into(),
                object_type_id: o.type_id.into(),
                custom: false,
            })
            .collect();
        for s in self.client.schemas().await? {
            object_types.push(ObjectTypeInfo {
                name: s.name,
                object_type_id: s.object_type_id,
                custom: true,
            });
        }
        Ok(Json(ListObjectTypesOutput { object_types }))
    }

    /// Describes the properties of an object type.
    #[tool(
        description = "Describe an object type's properties: name, label, type and, for enumerations, the allowed values. Use before searching or writing to get exact names and values; nameContains keeps it short. Cached.",
        annotations(
            title = "Describe properties",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn describe_properties(
        &self,
        Parameters(p): Parameters<DescribePropertiesParams>,
    ) -> Result<Json<DescribePropertiesOutput>, ToolError> {
        let t = self.object_type(&p.object_type).await?;
        let props = self.client.properties(&t).await?;
        let needle = p.name_contains.as_deref().map(str::to_lowercase);
        let mut properties = Vec::new();
        for d in props {
            let (name, label) = (d.name.as_str(), d.label.as_str());
            let read_only = d.read_only();
            if read_only && !p.include_read_only && name != "hs_object_id" {
                continue;
            }
            if d.hidden {
                continue;
            }
            if let Some(n) = &needle {
                if !name.to_lowercase().contains(n) && !label.to_lowercase().contains(n) {
                    continue;
                }
            }
            let options = d
                .options
                .iter()
                .filter(|o| !o.value.is_empty())
                .map(|o| OptionInfo {
                    value: o.value.clone(),
                    label: o.label.clone(),
                })
                .collect();
            properties.push(PropertyInfo {
                name: name.into(),
                label: label.into(),
                kind: if d.kind.is_empty() {
                    "string".into()
                } else {
                    d.kind.clone()
                },
                options,
                unique: d.has_unique_value,
                read_only,
                owner: d.is_owner(),
            });
        }
        Ok(Json(DescribePropertiesOutput {
            object_type: t,
            properties,
        }))
    }

    /// Lists owners.
    #[tool(
        description = "List owners (users and queues) with ids, names and emails; the id goes in hubspot_owner_id. Cached.",
        annotations(
            title = "List owners",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn list_owners(
        &self,
        Parameters(p): Parameters<ListOwnersParams>,
    ) -> Result<Json<ListOwnersOutput>, ToolError> {
        let owners = self.client.owners().await?;
        let want = p.email.map(|e| e.trim().to_lowercase());
        let owners = owners
            .into_iter()
            .filter(|o| want.as_ref().is_none_or(|e| o.email == *e))
            .map(|o| OwnerInfo {
                name: o.full_name(),
                kind: if o.kind.is_empty() {
                    "PERSON".into()
                } else {
                    o.kind
                },
                id: o.id,
                email: o.email,
            })
            .collect();
        Ok(Json(ListOwnersOutput { owners }))
    }

    /// Lists pipelines and stages.
    #[tool(
        description = "List deal or ticket pipelines and their stages; stage ids go in dealstage or hs_pipeline_stage. Cached.",
        annotations(
            title = "List pipelines",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn list_pipelines(
        &self,
        Parameters(p): Parameters<ListPipelinesParams>,
    ) -> Result<Json<ListPipelinesOutput>, ToolError> {
        let t = self.object_type(&p.object_type).await?;
        let pipelines = self
            .client
            .pipelines(&t)
            .await?
            .into_iter()
            .map(|pl| PipelineInfo {
                id: pl.id,
                label: pl.label,
                stages: pl
                    .stages
                    .into_iter()
                    .map(|s| StageInfo {
                        closed: s.closed(),
                        probability: s.probability(),
                        id: s.id,
                        label: s.label,
                    })
                    .collect(),
            })
            .collect();
        Ok(Json(ListPipelinesOutput { pipelines }))
    }
}
