//! Search: one page, every page, and a cursor that reads past the 10,000-result cap by
//! sorting on `hs_object_id` and asking for each next page above the last id (never an
//! offset, which shifts when records change mid-read).

use super::{typed, Call, HubSpotClient, SEARCH_PAGE};
use crate::hubspot::error::{ApiError, EndpointGroup};
use crate::hubspot::limit::{Bucket, Lane};
use crate::hubspot::model::{CrmObject, Filter, SearchPage, SearchQuery};

impl HubSpotClient {
    /// One search page.
    ///
    /// # Errors
    /// HubSpot's validation errors (limits, unknown properties) and transport failures.
    pub async fn search(
        &self,
        lane: Lane,
        object_type: &str,
        query: &SearchQuery,
    ) -> Result<SearchPage, ApiError> {
        let mut call = Call::post(
            self.v().search(&typed(object_type)?),
            query.to_body(),
            lane,
            EndpointGroup::Search,
            true,
            false,
        );
        call.bucket = Bucket::Search;
        self.fetch(&call).await
    }

    /// Every record matching `filters`, past the 10,000-result cap (sorted by id; restarts
    /// above the last id seen), all in memory. For large types use [`search_pages`]
    /// (Self::search_pages), which holds one page at a time.
    ///
    /// # Errors
    /// When a request fails.
    pub async fn search_all(
        &self,
        lane: Lane,
        object_type: &str,
        filters: &[Filter],
        properties: &[String],
    ) -> Result<(Vec<CrmObject>, usize), ApiError> {
        let mut pages = self.search_pages(lane, object_type, filters, properties);
        let mut out = Vec::new();
        while let Some(page) = pages.next_page().await? {
            out.extend(page);
        }
        Ok((out, pages.requests()))
    }

    /// The pages of [`search_all`](Self::search_all), one at a time, in ascending id order.
    pub fn search_pages(
        &self,
        lane: Lane,
        object_type: &str,
        filters: &[Filter],
        properties: &[String],
    ) -> SearchPages {
        SearchPages {
            client: self.clone(),
            lane,
            object_type: object_type.to_string(),
            filters: filters.to_vec(),
            properties: properties.to_vec(),
            above: None,
            requests: 0,
            done: false,
            total: None,
        }
    }
}

/// A search read page by page (see [`HubSpotClient::search_pages`]).
#[derive(Debug)]
pub struct SearchPages {
    client: HubSpotClient,
    lane: Lane,
    object_type: String,
    filters: Vec<Filter>,
    properties: Vec<String>,
    /// Where the next page starts: records with a larger id.
    above: Option<String>,
    requests: usize,
    done: bool,
    /// What the first page said matched (from the starting point).
    total: Option<u64>,
}

impl SearchPages {
    /// Starts above this id instead of at the beginning (a resumed read).
    #[must_use]
    pub fn starting_above(mut self, id: Option<String>) -> Self {
        self.above = id;
        self
    }

    /// How many records matched from the starting point, once the first page is read.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// The next page; `None` after the last.
    ///
    /// # Errors
    /// When a request fails (the cursor can be polled again to retry that page).
    pub async fn next_page(&mut self) -> Result<Option<Vec<CrmObject>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let mut group = self.filters.clone();
        if let Some(last) = &self.above {
            group.push(Filter::new("hs_object_id", "GT", last.clone()));
        }
        let q = SearchQuery {
            filter_groups: vec![group],
            properties: self.properties.clone(),
            sort: Some(("hs_object_id".into(), false)),
            limit: SEARCH_PAGE,
            after: None,
            query: None,
        };
        let page = self.client.search(self.lane, &self.object_type, &q).await?;
        self.requests += 1;
        self.total.get_or_insert(page.total);
        match page.paging.and_then(|p| p.next) {
            // Every next page starts above the last id rather than at an offset: an offset
            // shifts when a record before it is deleted or stops matching mid-read (one
            // record skipped) or starts matching (one read twice); an id does not. It costs
            // the same number of calls, and never meets the 10,000-result cap.
            Some(_) if !page.results.is_empty() => {
                self.above = page.results.last().map(|o| o.id.clone());
            }
            _ => self.done = true,
        }
        Ok(Some(page.results))
    }

    /// Search requests spent so far.
    pub fn requests(&self) -> usize {
        self.requests
    }
}
