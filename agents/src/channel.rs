//! A selling channel as the Lister, the Autopilot and delist-on-sale see it: the request
//! each operation on a listing needs, in the channel's own types, and where a listing of it
//! lives on the web. What a channel has no API for it answers [`ChannelRequest::Assisted`]:
//! the operator does it by hand, asked by an inbox task.
//!
//! Every request still goes through the gate as an action; the gate's effector for the
//! marketplace (for eBay, [`EbaySell`](crate::connectors::ebay_sell::EbaySell)) reads the
//! same types back. A new channel is a new implementation here and an effector, with no
//! change to the actors.
//!
//! Sales are read through [`OrderFeed`](crate::selling::OrderFeed); buyers' offers arrive
//! by mail and are answered by mail. Marking an order shipped is not modelled yet.

use std::collections::BTreeMap;

use bazaar_memory::{ActionKind, ChannelListing, InventoryItem, Marketplace, Money};
use bazaar_strategies::listing::{ebay_category_id, ListingDraft};
use serde::Serialize;

use crate::connectors::ebay_sell::{
    PublishParams, RevisePriceParams, SkuParams, WatcherOfferParams,
};
use crate::selling::{ChannelMode, SellingChannel};

/// What one operation on a channel takes.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelRequest {
    /// A gate action: its kind and the channel's parameters for it.
    Native {
        /// The action.
        kind: ActionKind,
        /// Its parameters, in the channel's request type.
        params: serde_json::Value,
    },
    /// The channel has no API for it: the operator does it.
    Assisted,
}

/// What publishing one listing of an item needs.
#[derive(Debug, Clone, Copy)]
pub struct PublishRequest<'a> {
    pub item: &'a InventoryItem,
    /// The channel listing's SKU.
    pub sku: &'a str,
    /// Its copy, within the channel's limits.
    pub copy: &'a ListingDraft,
    /// Its asking price.
    pub price: Money,
}

/// The operations on a channel's listings.
pub trait Channel: Send + Sync {
    fn marketplace(&self) -> Marketplace;
    /// Native when Bazaar does the work through the channel's API, assisted when the
    /// operator does it by hand. What the Lister and the Autopilot act on: a channel
    /// configured native that has no connector here is assisted.
    fn mode(&self) -> ChannelMode;
    /// Puts an item up for sale.
    fn publish(&self, request: &PublishRequest<'_>) -> ChannelRequest;
    /// Changes a live listing's price to `to`.
    fn revise_price(&self, listing: &ChannelListing, to: Money) -> ChannelRequest;
    /// Takes a listing down.
    fn withdraw(&self, listing: &ChannelListing) -> ChannelRequest;
    /// Puts an ended listing up again (a fresh listing id, the same SKU).
    fn relist(&self, listing: &ChannelListing) -> ChannelRequest;
    /// Offers `price` to the buyers watching the live listing `external_id`.
    fn offer_to_watchers(&self, external_id: &str, price: Money) -> ChannelRequest;
    /// Where a listing with the channel's id `external_id` is seen by buyers; `config` says
    /// which site the channel is (eBay's own, its sandbox, or a simulated one).
    fn listing_url(&self, external_id: &str, config: &bazaar_config::Config) -> Option<String>;
}

/// The channel behind `channel`: eBay's API when it is native, the operator's hands
/// otherwise.
pub fn channel_for(channel: SellingChannel) -> &'static dyn Channel {
    match (channel.marketplace, channel.mode) {
        (Marketplace::Ebay, ChannelMode::Native) => &EBAY,
        (marketplace, _) => assisted(marketplace),
    }
}

fn native(kind: ActionKind, params: impl Serialize) -> ChannelRequest {
    // Plain structs of strings and numbers: serializing them cannot fail.
    let params = serde_json::to_value(params).unwrap_or_default();
    ChannelRequest::Native { kind, params }
}

/// eBay through its Sell APIs (Inventory, Negotiation).
#[derive(Debug)]
pub struct Ebay;

static EBAY: Ebay = Ebay;

impl Channel for Ebay {
    fn marketplace(&self) -> Marketplace {
        Marketplace::Ebay
    }

    fn mode(&self) -> ChannelMode {
        ChannelMode::Native
    }

    fn publish(&self, request: &PublishRequest<'_>) -> ChannelRequest {
        let copy = request.copy;
        // Item specifics eBay shows buyers, from the attributes it knows.
        let aspects: BTreeMap<String, Vec<String>> = request
            .item
            .attributes
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "brand" | "model" | "size" | "color"))
            .map(|(k, v)| (capitalize(k), vec![v.clone()]))
            .collect();
        let description = if copy.description.is_empty() {
            copy.title.clone()
        } else {
            copy.description.clone()
        };
        native(
            ActionKind::PublishListing,
            PublishParams {
                sku: Some(request.sku.to_string()),
                title: copy.title.clone(),
                description,
                condition: copy.condition.name().to_string(),
                category_id: ebay_category_id(&request.item.category).to_string(),
                price: request.price,
                quantity: 1,
                images: copy.images.clone(),
                aspects,
                policies: None,
                best_offer: false,
            },
        )
    }

    fn revise_price(&self, listing: &ChannelListing, to: Money) -> ChannelRequest {
        native(
            ActionKind::RevisePrice,
            RevisePriceParams {
                sku: Some(listing.sku.clone()),
                price: to,
                from: Some(listing.price),
            },
        )
    }

    fn withdraw(&self, listing: &ChannelListing) -> ChannelRequest {
        native(
            ActionKind::WithdrawListing,
            SkuParams {
                sku: Some(listing.sku.clone()),
            },
        )
    }

    fn relist(&self, listing: &ChannelListing) -> ChannelRequest {
        native(
            ActionKind::Relist,
            SkuParams {
                sku: Some(listing.sku.clone()),
            },
        )
    }

    fn offer_to_watchers(&self, external_id: &str, price: Money) -> ChannelRequest {
        native(
            ActionKind::SendOfferToBuyers,
            WatcherOfferParams {
                listing_id: external_id.to_string(),
                price,
                days: 2,
                message: Some("Thanks for watching — here is a better price.".into()),
            },
        )
    }

    /// eBay's item page: `www.` where the API is `api.` (`api.ebay.com`, the sandbox's
    /// `api.sandbox.ebay.com`), the API's own host otherwise (the simulated eBay serves
    /// its pages there).
    fn listing_url(&self, external_id: &str, config: &bazaar_config::Config) -> Option<String> {
        let api = config.marketplaces.ebay.base_url.trim_end_matches('/');
        let site = match api.strip_prefix("https://api.") {
            Some(domain) => format!("https://www.{domain}"),
            None => api.to_string(),
        };
        Some(format!("{site}/itm/{external_id}"))
    }
}

/// A channel the operator works by hand: they paste the listing, confirm its URL, and take
/// it down when asked.
#[derive(Debug)]
pub struct Assisted(pub Marketplace);

fn assisted(marketplace: Marketplace) -> &'static Assisted {
    static ALL: [Assisted; 5] = [
        Assisted(Marketplace::Ebay),
        Assisted(Marketplace::Craigslist),
        Assisted(Marketplace::Facebook),
        Assisted(Marketplace::Poshmark),
        Assisted(Marketplace::Mercari),
    ];
    let index = Marketplace::ALL
        .iter()
        .position(|m| *m == marketplace)
        .unwrap_or(0);
    &ALL[index]
}

impl Channel for Assisted {
    fn marketplace(&self) -> Marketplace {
        self.0
    }

    fn mode(&self) -> ChannelMode {
        ChannelMode::Assisted
    }

    fn publish(&self, _: &PublishRequest<'_>) -> ChannelRequest {
        ChannelRequest::Assisted
    }

    fn revise_price(&self, _: &ChannelListing, _: Money) -> ChannelRequest {
        ChannelRequest::Assisted
    }

    fn withdraw(&self, _: &ChannelListing) -> ChannelRequest {
        ChannelRequest::Assisted
    }

    fn relist(&self, _: &ChannelListing) -> ChannelRequest {
        ChannelRequest::Assisted
    }

    fn offer_to_watchers(&self, _: &str, _: Money) -> ChannelRequest {
        ChannelRequest::Assisted
    }

    /// The operator gives the URL when they confirm the listing.
    fn listing_url(&self, _: &str, _: &bazaar_config::Config) -> Option<String> {
        None
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use bazaar_memory::{
        ChannelListingId, ChannelStatus, Condition, InventoryItem, ItemId, ItemStatus, Lifecycle,
    };
    use chrono::{TimeZone, Utc};
    use serde::de::DeserializeOwned;

    use super::*;

    fn item() -> InventoryItem {
        let at = Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap();
        InventoryItem {
            id: ItemId::new_at(at),
            opportunity: None,
            title: "Trek FX 2 hybrid bike".into(),
            description: String::new(),
            category: "bike".into(),
            condition: Condition::Good,
            cost_basis: Money::usd(20_000),
            images: vec!["https://example.com/1.jpg".into()],
            attributes: BTreeMap::from([
                ("brand".to_string(), "Trek".to_string()),
                ("zip".to_string(), "97201".to_string()),
            ]),
            lifecycle: Lifecycle::new(ItemStatus::InStock),
            acquired_at: at,
            source: Default::default(),
            selling: Default::default(),
        }
    }

    fn listing(item: &InventoryItem) -> ChannelListing {
        ChannelListing {
            id: ChannelListingId::new_at(item.acquired_at),
            item: item.id,
            marketplace: Marketplace::Ebay,
            sku: "BZ-TREK-1".into(),
            external_id: Some("110553".into()),
            url: None,
            price: Money::usd(39_999),
            lifecycle: Lifecycle::new(ChannelStatus::Live),
        }
    }

    fn draft() -> ListingDraft {
        ListingDraft {
            marketplace: Marketplace::Ebay,
            title: "Trek FX 2 Hybrid Bike".into(),
            description: String::new(),
            images: vec!["https://example.com/1.jpg".into()],
            condition: Condition::Good,
            price: Money::usd(39_999),
            floor: Money::usd(25_000),
            fees: Money::usd(5_300),
            shipping: Money::usd(0),
            missing: Vec::new(),
        }
    }

    /// The parameters of a native request, read back as the effector reads them.
    fn read<P: DeserializeOwned>(request: ChannelRequest, kind: ActionKind) -> P {
        match request {
            ChannelRequest::Native {
                kind: asked,
                params,
            } => {
                assert_eq!(asked, kind);
                serde_json::from_value(params).expect("the effector reads what the channel wrote")
            }
            ChannelRequest::Assisted => panic!("eBay is native"),
        }
    }

    #[test]
    fn ebay_asks_in_the_types_its_effector_reads() {
        let (item, copy) = (item(), draft());
        let listing = listing(&item);
        let request = PublishRequest {
            item: &item,
            sku: &listing.sku,
            copy: &copy,
            price: listing.price,
        };
        let publish: PublishParams = read(Ebay.publish(&request), ActionKind::PublishListing);
        assert_eq!(publish.sku.as_deref(), Some("BZ-TREK-1"));
        assert_eq!(publish.category_id, ebay_category_id("bike"));
        assert_eq!(
            publish.description, copy.title,
            "an empty description is the title"
        );
        assert_eq!(publish.condition, "good");
        assert_eq!(
            publish.aspects,
            BTreeMap::from([("Brand".to_string(), vec!["Trek".to_string()])]),
            "only the attributes eBay shows as item specifics"
        );
        let revise: RevisePriceParams = read(
            Ebay.revise_price(&listing, Money::usd(35_000)),
            ActionKind::RevisePrice,
        );
        assert_eq!(
            (revise.price, revise.from),
            (Money::usd(35_000), Some(Money::usd(39_999)))
        );
        let withdraw: SkuParams = read(Ebay.withdraw(&listing), ActionKind::WithdrawListing);
        let relist: SkuParams = read(Ebay.relist(&listing), ActionKind::Relist);
        assert_eq!(withdraw, relist);
        let offer: WatcherOfferParams = read(
            Ebay.offer_to_watchers("110553", Money::usd(36_000)),
            ActionKind::SendOfferToBuyers,
        );
        assert_eq!((offer.listing_id.as_str(), offer.days), ("110553", 2));
        let mut config = bazaar_config::Config::load(None, std::iter::empty()).unwrap();
        let mut check = |api: &str, page: &str| {
            config.marketplaces.ebay.base_url = api.into();
            assert_eq!(
                Ebay.listing_url("110553", &config).as_deref(),
                Some(page),
                "{api}"
            );
        };
        check("https://api.ebay.com", "https://www.ebay.com/itm/110553");
        check(
            "https://api.sandbox.ebay.com/",
            "https://www.sandbox.ebay.com/itm/110553",
        );
        check("http://127.0.0.1:4000", "http://127.0.0.1:4000/itm/110553");
    }

    #[test]
    fn a_channel_configured_native_without_a_connector_is_assisted() {
        assert_eq!(
            channel_for(SellingChannel::native(Marketplace::Ebay)).mode(),
            ChannelMode::Native
        );
        for marketplace in Marketplace::ALL
            .into_iter()
            .filter(|m| *m != Marketplace::Ebay)
        {
            let channel = channel_for(SellingChannel::native(marketplace));
            assert_eq!(
                (channel.marketplace(), channel.mode()),
                (marketplace, ChannelMode::Assisted)
            );
        }
    }

    #[test]
    fn a_channel_without_an_api_asks_the_operator() {
        let (item, copy) = (item(), draft());
        let listing = listing(&item);
        for marketplace in Marketplace::ALL {
            let channel = channel_for(SellingChannel {
                marketplace,
                mode: ChannelMode::Assisted,
            });
            assert_eq!(channel.marketplace(), marketplace);
            assert_eq!(channel.mode(), ChannelMode::Assisted);
            let request = PublishRequest {
                item: &item,
                sku: &listing.sku,
                copy: &copy,
                price: listing.price,
            };
            for answer in [
                channel.publish(&request),
                channel.revise_price(&listing, Money::usd(1)),
                channel.withdraw(&listing),
                channel.relist(&listing),
                channel.offer_to_watchers("1", Money::usd(1)),
            ] {
                assert_eq!(answer, ChannelRequest::Assisted, "{marketplace}");
            }
            assert_eq!(
                channel.listing_url(
                    "1",
                    &bazaar_config::Config::load(None, std::iter::empty()).unwrap()
                ),
                None
            );
        }
        let ebay = channel_for(SellingChannel::native(Marketplace::Ebay));
        assert!(matches!(
            ebay.withdraw(&listing),
            ChannelRequest::Native { .. }
        ));
    }
}
