// The Marketplace-style site's client. The server's HTML holds no listing: this script reads
// the URL, asks /api/graphql/ for data and builds the DOM with textContent (never innerHTML),
// so listing text is never interpreted as markup.
(function () {
  "use strict";

  var mount = document.getElementById("mount");
  var CATEGORIES = {
    "furniture": "Furniture",
    "propertyrentals": "Property Rentals",
    "bicycles": "Bicycles",
    "vehicles": "Vehicles",
    "electronics": "Electronics",
    "cell-phones": "Mobile Phones"
  };

  function setState(state) {
    document.body.setAttribute("data-state", state);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined) { return; }
      if (name === "text") { node.textContent = value; } else { node.setAttribute(name, value); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function gql(name, variables) {
    var body = new URLSearchParams();
    body.set("fb_api_req_friendly_name", name);
    body.set("variables", JSON.stringify(variables));
    return fetch("/api/graphql/", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok || json.errors) {
          throw new Error(json.errors ? json.errors[0].message : "HTTP " + response.status);
        }
        return json;
      });
    });
  }

  function place(listing) {
    var geo = listing.location && listing.location.reverse_geocode;
    return geo ? geo.city + ", " + geo.state : "";
  }

  function ago(created, now) {
    var seconds = Math.max(0, now - created);
    var units = [["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
    for (var i = 0; i < units.length; i++) {
      var n = Math.floor(seconds / units[i][1]);
      if (n >= 1) { return n + " " + units[i][0] + (n === 1 ? "" : "s") + " ago"; }
    }
    return "just now";
  }

  function fail(error) {
    mount.textContent = "";
    mount.appendChild(el("div", { "class": "error", role: "alert", text: "Something went wrong. " + error.message }));
    setState("error");
  }

  function card(listing) {
    var photo = listing.primary_listing_photo && listing.primary_listing_photo.image;
    return el("div", {
      "class": "card",
      role: "listitem",
      "data-testid": "marketplace-feed-item",
      "data-listing-id": listing.id
    }, [
      el("a", { href: "/marketplace/item/" + listing.id + "/", role: "link" }, [
        photo && photo.uri ? el("img", { src: photo.uri, alt: listing.marketplace_listing_title }) : null,
        el("span", { "class": "card-price", dir: "auto", text: listing.listing_price.formatted_amount }),
        el("span", { "class": "card-title", dir: "auto", text: listing.marketplace_listing_title }),
        el("span", { "class": "card-location", dir: "auto", text: place(listing) })
      ])
    ]);
  }

  function searchPage(category) {
    var params = new URLSearchParams(location.search);
    category = category || params.get("category") || null;
    var query = params.get("query") || "";
    var variables = {
      query: query,
      category: category,
      minPrice: params.get("minPrice") || null,
      maxPrice: params.get("maxPrice") || null,
      cursor: null
    };
    var heading = query ? "Search results for \u201c" + query + "\u201d"
      : category ? (CATEGORIES[category] || category) : "Today's picks";

    var form = el("form", { "class": "filters", method: "get", action: location.pathname }, [
      el("input", { type: "search", name: "query", placeholder: "Search Marketplace", value: query }),
      el("input", { type: "number", name: "minPrice", placeholder: "Min", value: variables.minPrice }),
      el("input", { type: "number", name: "maxPrice", placeholder: "Max", value: variables.maxPrice }),
      el("button", { type: "submit", text: "Search" })
    ]);
    var feed = el("div", { "class": "feed", role: "list", "aria-label": "Collection of Marketplace items" });
    var footer = el("div", { "class": "feed-footer" });
    var main = el("div", { role: "main", "class": "marketplace-search" }, [
      el("h1", { "class": "feed-heading", text: heading }),
      form,
      feed,
      footer
    ]);

    function load() {
      setState("loading");
      var more = footer.querySelector("button.see-more");
      if (more) { more.disabled = true; }
      return gql("MarketplaceSearchQuery", variables).then(function (json) {
        var result = json.data.marketplace_search;
        var units = result.feed_units;
        if (!mount.contains(main)) { mount.textContent = ""; mount.appendChild(main); }
        units.edges.forEach(function (edge) { feed.appendChild(card(edge.node.listing)); });
        feed.setAttribute("data-total-count", String(result.total_count));
        footer.textContent = "";
        if (units.page_info.has_next_page) {
          variables.cursor = units.page_info.end_cursor;
          var button = el("button", { type: "button", "class": "see-more", "aria-label": "See more", text: "See more" });
          button.addEventListener("click", function () { load().catch(fail); });
          footer.appendChild(button);
        } else {
          var end = feed.children.length === 0 ? "No listings found" : "You've reached the end of the results";
          footer.appendChild(el("div", { "class": "feed-end", text: end }));
        }
        setState("ready");
      });
    }
    return load();
  }

  function itemPage(id) {
    return gql("MarketplacePDPQuery", { targetId: id }).then(function (json) {
      var target = json.data.viewer.marketplace_product_details_page.target;
      var now = json.extensions.server_time;
      mount.textContent = "";
      if (!target) {
        document.title = "Marketplace";
        mount.appendChild(el("div", { role: "main", "class": "pdp-unavailable" }, [
          el("h1", { text: "This listing isn't available anymore" }),
          el("a", { href: "/marketplace/", text: "Browse Marketplace" })
        ]));
        setState("ready");
        return;
      }
      document.title = "Marketplace \u2013 " + target.marketplace_listing_title;
      var sold = target.is_sold;
      var photos = el("div", { "class": "pdp-photos" }, (target.listing_photos || []).map(function (photo, i) {
        return el("img", { src: photo.image.uri, alt: "Photo " + (i + 1) + " of " + target.marketplace_listing_title });
      }));
      var category = target.marketplace_listing_category;
      var contact = target.seller_contact;
      var info = el("div", { "class": "pdp-info" }, [
        sold ? el("span", { "class": "pdp-status", text: "Sold" }) : null,
        el("h1", { "class": "pdp-title" }, [el("span", { dir: "auto", text: target.marketplace_listing_title })]),
        el("div", { "class": "pdp-price", text: target.listing_price.formatted_amount }),
        el("div", { "class": "pdp-listed", text: "Listed " + ago(target.creation_time, now) + " in " + place(target) }),
        category ? el("a", { "class": "pdp-category", href: "/marketplace/category/" + category.slug + "/", text: category.name }) : null,
        el("h2", { text: "Details" }),
        el("div", { "class": "pdp-description", dir: "auto", text: target.redacted_description.text }),
        el("div", { "class": "pdp-location", text: place(target) }),
        contact && contact.email ? el("a", {
          "class": "pdp-message",
          href: "mailto:" + contact.email + "?subject=" + encodeURIComponent(target.marketplace_listing_title),
          text: "Message seller"
        }) : null
      ]);
      mount.appendChild(el("div", {
        role: "main",
        "class": "pdp",
        "data-listing-id": target.id,
        "data-status": sold ? "sold" : "active"
      }, [photos, info]));
      setState("ready");
    });
  }

  function route() {
    var path = location.pathname;
    var item = path.match(/^\/marketplace\/item\/(\d+)\/?$/);
    if (item) { return itemPage(item[1]); }
    var category = path.match(/^\/marketplace\/category\/([a-z-]+)\/?$/);
    return searchPage(category ? category[1] : null);
  }

  route().catch(fail);
}());
