//! Writes: batch create, update and upsert through one checked path, and associations.

use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::args::{record, PropertyMap, RecordId, RecordOut};
use super::error::ToolError;
use super::validate::limit_inputs;
use crate::hubspot::client::WriteOp;
use crate::hubspot::error::ApiError;
use crate::hubspot::limit::Lane;
use crate::hubspot::model::WriteInput;
use crate::hubspot::path::ObjectType;
use crate::mcp::params::Parameters;
use crate::mcp::HubSpotMcp;

// One record to create.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    pub properties: PropertyMap,
}

/// `create_objects` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateObjectsParams {
    pub object_type: String,
    /// At most 100 records.
    pub records: Vec<NewRecord>,
}

// One record to change.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangedRecord {
    /// Record id (update) or the unique value (upsert).
    pub id: RecordId,
    pub properties: PropertyMap,
}

/// `update_objects` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateObjectsParams {
    pub object_type: String,
    /// At most 100 records.
    pub records: Vec<ChangedRecord>,
}

/// `upsert_objects` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpsertObjectsParams {
    pub object_type: String,
    /// The unique property the ids are values of (e.g. `email`, or a custom unique id).
    pub id_property: String,
    /// At most 100 records.
    pub records: Vec<ChangedRecord>,
}

/// `associate_objects` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssociateObjectsParams {
    pub object_type: String,
    pub id: RecordId,
    pub to_object_type: String,
    pub to_id: RecordId,
    /// A labelled association type id; omit for the default (unlabelled) association.
    #[serde(default)]
    pub association_type_id: Option<u32>,
}

// A refused input of a write.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteError {
    /// Position in `records`, when known.
    pub index: Option<usize>,
    /// HubSpot's category (`VALIDATION_ERROR`, `CONFLICT`, …).
    pub category: String,
    pub message: String,
    /// The refused property values: property, HubSpot's code, message.
    pub fields: Vec<crate::hubspot::rejection::FieldError>,
}

/// Output of the write tools.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteOutput {
    pub results: Vec<RecordOut>,
    pub errors: Vec<WriteError>,
}

/// `associate_objects` output.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AssociateOutput {
    pub associated: bool,
}

#[tool_router(router = write_router, vis = "pub")]
impl HubSpotMcp {
    /// Creates records in one batch.
    #[tool(
        description = "Create up to 100 records in one batch, each {properties: {name: value}}. Names and enum values are checked first; rejected inputs are reported by index while the others are created.",
        annotations(
            title = "Create records",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn create_objects(
        &self,
        Parameters(p): Parameters<CreateObjectsParams>,
    ) -> Result<Json<WriteOutput>, ToolError> {
        limit_inputs(&p.records, "records")?;
        let records = p.records.iter().map(|r| (None, &r.properties)).collect();
        self.write_objects(&p.object_type, WriteOp::Create, None, records)
            .await
    }

    /// Updates records in one batch.
    #[tool(
        description = "Update up to 100 records by id in one batch. Only the given properties change; an empty string clears a value. Failures are reported by index.",
        annotations(
            title = "Update records",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn update_objects(
        &self,
        Parameters(p): Parameters<UpdateObjectsParams>,
    ) -> Result<Json<WriteOutput>, ToolError> {
        limit_inputs(&p.records, "records")?;
        let records = p
            .records
            .iter()
            .map(|r| (Some(r.id.text()), &r.properties))
            .collect();
        self.write_objects(&p.object_type, WriteOp::Update, None, records)
            .await
    }

    /// Creates or updates records by a unique property.
    #[tool(
        description = "Create or update up to 100 records by a unique property (idProperty, e.g. email): existing ones are updated, others created. Safe to repeat.",
        annotations(
            title = "Upsert records",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn upsert_objects(
        &self,
        Parameters(p): Parameters<UpsertObjectsParams>,
    ) -> Result<Json<WriteOutput>, ToolError> {
        limit_inputs(&p.records, "records")?;
        let records = p
            .records
            .iter()
            .map(|r| (Some(r.id.text()), &r.properties))
            .collect();
        self.write_objects(
            &p.object_type,
            WriteOp::Upsert,
            Some(&p.id_property),
            records,
        )
        .await
    }

    /// Associates two records.
    #[tool(
        description = "Associate two records (e.g. a contact with a company): the default association, or the labelled associationTypeId. Repeating it changes nothing.",
        annotations(
            title = "Associate records",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn associate_objects(
        &self,
        Parameters(p): Parameters<AssociateObjectsParams>,
    ) -> Result<Json<AssociateOutput>, ToolError> {
        let from = self.object_type(&p.object_type).await?;
        let to = self.object_type(&p.to_object_type).await?;
        let from_t = ObjectType::parse(&from).map_err(|e| ToolError::invalid(e.to_string()))?;
        let to_t = ObjectType::parse(&to).map_err(|e| ToolError::invalid(e.to_string()))?;
        let a = p.id.path_id("id")?;
        let b = p.to_id.path_id("toId")?;
        let label = match p.association_type_id {
            None => None,
            Some(id) => {
                // The category comes from the portal's own label definitions (cached).
                let labels = self.client.association_labels(&from, &to).await?;
                let known: Vec<&Value> = labels["results"]
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                let Some(def) = known
                    .iter()
                    .find(|l| l["typeId"].as_u64() == Some(u64::from(id)))
                else {
                    let ids: Vec<String> = known
                        .iter()
                        .map(|l| {
                            format!(
                                "{} ({})",
                                l["typeId"],
                                l["label"].as_str().unwrap_or("unlabelled")
                            )
                        })
                        .collect();
                    return Err(ToolError::invalid(format!("associationTypeId {id} does not exist from {from} to {to}; the types are: {}", ids.join(", "))));
                };
                let category = def["category"]
                    .as_str()
                    .unwrap_or("HUBSPOT_DEFINED")
                    .to_string();
                Some((category, id))
            }
        };
        self.client
            .associate(
                Lane::Interactive,
                (&from_t, &a),
                (&to_t, &b),
                label.as_ref().map(|(c, id)| (c.as_str(), *id)),
            )
            .await?;
        Ok(Json(AssociateOutput { associated: true }))
    }
}

impl HubSpotMcp {
    /// The one write path of `create_objects`, `update_objects` and `upsert_objects`: resolve
    /// the type, check every property against the portal's definitions (names, read-only,
    /// enumeration values; for an upsert, that `id_property` is unique), then batch-write.
    async fn write_objects(
        &self,
        object_type: &str,
        op: WriteOp,
        id_property: Option<&str>,
        records: Vec<(Option<String>, &PropertyMap)>,
    ) -> Result<Json<WriteOutput>, ToolError> {
        let t = self.object_type(object_type).await?;
        let idx = self.property_index(&t).await?;
        if let Some(unique) = id_property {
            if !idx.check_name(unique)?.has_unique_value {
                let uniques: Vec<&str> = idx
                    .defs
                    .iter()
                    .filter(|(_, d)| d.has_unique_value)
                    .map(|(n, _)| n.as_str())
                    .collect();
                return Err(ToolError::invalid(format!(
                    "idProperty \"{unique}\" is not a unique property; use one of: {}",
                    uniques.join(", ")
                )));
            }
        }
        let mut inputs = Vec::with_capacity(records.len());
        for (id, properties) in records {
            inputs.push(WriteInput {
                id,
                id_property: id_property.map(str::to_string),
                properties: idx.check_writable(properties)?,
            });
        }
        let t = t.as_str();
        let inputs = inputs.as_slice();
        let out = match self
            .client
            .batch_write(Lane::Interactive, t, op, inputs)
            .await
        {
            Ok(out) => out,
            // The whole batch refused for its values (HubSpot's 400): the same answer as a
            // per-record refusal, so the model reads one shape either way.
            Err(ApiError::Http { status, body, .. }) if status == 400 || status == 409 => {
                let read = body.field_errors();
                crate::hubspot::model::BatchOutcome {
                    results: Vec::new(),
                    errors: vec![crate::hubspot::model::ItemError {
                        index: None,
                        ids: Vec::new(),
                        category: body.category.unwrap_or_else(|| "ERROR".into()),
                        message: read.headline,
                        fields: read.fields,
                    }],
                    requests: 1,
                }
            }
            Err(e) => return Err(e.into()),
        };
        let written = out.results.len();
        let output = WriteOutput {
            results: out.results.into_iter().map(record).collect(),
            errors: out
                .errors
                .into_iter()
                .map(|e| WriteError {
                    index: e.index,
                    category: e.category,
                    message: e.message,
                    fields: e.fields,
                })
                .collect(),
        };
        if output.errors.is_empty() {
            return Ok(Json(output));
        }
        let lines: Vec<String> = output
            .errors
            .iter()
            .map(|e| {
                let at = e
                    .index
                    .map_or_else(|| "the batch".to_string(), |i| format!("records[{i}]"));
                let fields: Vec<String> = e.fields.iter().map(ToString::to_string).collect();
                if fields.is_empty() {
                    format!("{at}: {} {}", e.category, e.message)
                } else {
                    format!("{at}: {}", fields.join("; "))
                }
            })
            .collect();
        let text = format!(
            "HubSpot refused {} of {} records ({written} written): {}. Correct the values named and send only the refused records again.",
            inputs.len() - written,
            inputs.len(),
            lines.join(" | ")
        );
        Err(ToolError::Rejected {
            text,
            structured: serde_json::to_value(&output).unwrap_or_default(),
        })
    }
}
