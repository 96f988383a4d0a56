//! Links from what the tools return to where a person reads it in HubSpot's UI.

use super::HubSpotMcp;
use crate::hubspot::limit::Lane;

impl HubSpotMcp {
    /// `https://app.hubspot.com/contacts/{portal}/record/{type id}/{id}`, from the portal's
    /// account details (read once).
    pub(crate) async fn record_url(&self, t: &str, id: &str) -> Option<String> {
        let account = self
            .account
            .get_or_try_init(|| async {
                let v = self.client.account_details(Lane::Interactive).await?;
                Ok::<_, crate::hubspot::ApiError>((
                    v["uiDomain"]
                        .as_str()
                        .unwrap_or("app.hubspot.com")
                        .to_string(),
                    v["portalId"].as_u64().unwrap_or_default(),
                ))
            })
            .await
            .ok()?;
        let type_id = crate::objects::by_name(t).map_or(t, |o| o.type_id);
        Some(format!(
            "https://{}/contacts/{}/record/{type_id}/{id}",
            account.0, account.1
        ))
    }
}
