//! `Batch`: a request of slow images with a webhook, uploaded by the fault tests (outages,
//! crashes), and the end a merchant must see however the batch was interrupted.

use std::time::Duration;

use serde_json::Value;

use super::{ApiClient, ImageServer, PATIENCE, TestReceiver};

/// A request of `count` images, one per product, on an image server of its own that takes
/// 300 ms over each (so the batch lasts a few seconds and can be interrupted mid-way).
pub struct Batch {
    /// The request id.
    pub id: String,
    /// How many images it has.
    pub count: u64,
    /// Serves its images; counts the downloads begun.
    pub images: ImageServer,
    /// Receives its webhook.
    pub receiver: TestReceiver,
}

impl Batch {
    /// Uploads the batch, with a webhook to a new receiver.
    pub async fn upload(api: &ApiClient, count: u64) -> Self {
        let images = ImageServer::start().await;
        let receiver = TestReceiver::start(&[]).await;
        let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
        for i in 1..=count {
            csv.push_str(&format!("{i},P{i},{}\n", images.url(&format!("/slow/b{i}.jpg"))));
        }
        let id = api.submit(&csv, &[("webhook_url", &receiver.url)]).await;
        Self { id, count, images, receiver }
    }

    /// Waits until `percent` of the images have succeeded, and asserts that some are still to
    /// do: a fault injected now comes mid-batch.
    pub async fn wait_for_percent(&self, api: &ApiClient, percent: u64) -> Value {
        let request = api.wait_for_succeeded(&self.id, self.count * percent / 100).await;
        let pending = request["counts"]["pending"].as_u64();
        assert!(pending.is_some_and(|p| p > 0), "the batch is still under way: {request:#}");
        request
    }

    /// Waits for the end and asserts it: the request completed with every image succeeded,
    /// each counted once, and one webhook signed with `secret`, delivered on its first attempt
    /// and never again.
    pub async fn assert_finished_once(mut self, api: &ApiClient, secret: &str) {
        let request = api.wait_until_finished(&self.id).await;
        api.assert_all_succeeded(&self.id, &request, self.count).await;

        let call = self.receiver.next(PATIENCE).await;
        standardwebhooks::Webhook::new(secret).unwrap().verify(&call.body, &call.headers).expect("a signed webhook");
        let event: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(event["data"]["request_id"], self.id.as_str());
        assert_eq!(event["data"]["status"], "completed", "{event:#}");
        assert_eq!(event["data"]["counts"]["succeeded"], self.count, "{event:#}");
        self.receiver.assert_quiet(Duration::from_secs(3)).await;

        let delivery = api.delivery(&self.id).await;
        assert_eq!(delivery["id"], call.headers["webhook-id"].to_str().unwrap(), "{delivery:#}");
        assert_eq!(delivery["status"], "succeeded", "{delivery:#}");
        assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1, "one attempt: {delivery:#}");
    }
}
