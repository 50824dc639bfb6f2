/* <commune-datasets>: a commune's datasets, embeddable in any web site.
 *
 *   <script src="https://PORTAL/communes/widget.js" defer></script>
 *   <commune-datasets commune="NAME" q="" tags="" page-size="5"
 *                     primary-color="#c8102e" lang="fr"></commune-datasets>
 *
 * A custom element in Shadow DOM, no framework. It calls the portal's
 * communes_widget_search action without credentials (an anonymous visitor's
 * view) and writes every text with textContent. Links go to the portal's
 * dataset pages; download links come only for open datasets.
 */
(function () {
  "use strict";
  if (!window.customElements || window.customElements.get("commune-datasets")) return;

  var script = document.currentScript;
  var PORTAL = script && script.src ? new URL("..", script.src).href.replace(/\/$/, "") : "";

  var TEXT = {
    fr: {
      search: "Rechercher", placeholder: "Rechercher un jeu de données", none: "Aucun jeu de données.",
      error: "Les données du portail sont indisponibles pour le moment.", loading: "Chargement…",
      prev: "Précédent", next: "Suivant", page: "Page {p} sur {n}", count: "{n} jeux de données",
      one: "1 jeu de données", open: "Ouvert", licensed: "Sous licence", restricted: "Restreint",
      see: "Voir sur le portail", download: "Télécharger", source: "Données de {t}",
      label: "Jeux de données"
    },
    en: {
      search: "Search", placeholder: "Search datasets", none: "No dataset.",
      error: "The portal's data is unavailable for now.", loading: "Loading…",
      prev: "Previous", next: "Next", page: "Page {p} of {n}", count: "{n} datasets",
      one: "1 dataset", open: "Open", licensed: "Licensed", restricted: "Restricted",
      see: "See on the portal", download: "Download", source: "Data from {t}",
      label: "Datasets"
    }
  };
  var COLOUR = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
  var NAME = /^[a-z0-9_-]{2,100}$/;
  var LEVELS = { open: 1, licensed: 1, restricted: 1 };

  var CSS =
    ":host{display:block;font:15px/1.4 system-ui,sans-serif;color:#222;--c:#1f4e79}" +
    "form{display:flex;gap:.4em;margin:0 0 .8em}input{flex:1;padding:.4em;border:1px solid #999;border-radius:4px;font:inherit}" +
    "button{padding:.4em .8em;border:0;border-radius:4px;background:var(--c);color:#fff;font:inherit;cursor:pointer}" +
    "button[disabled]{opacity:.4;cursor:default}ul{list-style:none;margin:0;padding:0}" +
    "li.ds{border-top:1px solid #ddd;padding:.6em 0}h3{margin:0 0 .2em;font-size:1.05em}a{color:var(--c)}" +
    "p{margin:.2em 0;color:#444}.b{display:inline-block;font-size:.8em;padding:0 .5em;border-radius:1em;margin-right:.4em;color:#fff;background:#2e7d32}" +
    ".b.licensed{background:#b26a00}.b.restricted{background:#b71c1c}.f{font-size:.8em;border:1px solid #aaa;border-radius:3px;padding:0 .3em;margin-right:.3em}" +
    ".dl{font-size:.85em;margin-right:.6em}nav{display:flex;align-items:center;gap:.6em;margin-top:.6em}.m{color:#555;font-size:.9em}" +
    "footer{margin-top:.6em;font-size:.8em;color:#666}";

  function text(lang, key, vars) {
    var s = (TEXT[lang] || TEXT.fr)[key];
    for (var k in vars || {}) s = s.replace("{" + k + "}", String(vars[k]));
    return s;
  }

  function el(tag, cls, content) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content != null) e.textContent = content;
    return e;
  }

  function safeUrl(value) {
    try {
      var u = new URL(String(value));
      return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(href, label, cls) {
    var url = safeUrl(href);
    var a = el(url ? "a" : "span", cls, label);
    if (url) {
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return a;
  }

  class CommuneDatasets extends HTMLElement {
    static get observedAttributes() {
      return ["commune", "q", "tags", "page-size", "primary-color", "lang"];
    }

    constructor() {
      super();
      this.page = 1;
      this.seq = 0;
      var root = this.attachShadow({ mode: "open" });
      var style = document.createElement("style");
      style.textContent = CSS;
      this.form = el("form");
      this.form.setAttribute("role", "search");
      this.input = el("input");
      this.input.type = "search";
      this.button = el("button");
      this.button.type = "submit";
      this.form.append(this.input, this.button);
      this.status = el("p", "m");
      this.status.setAttribute("aria-live", "polite");
      this.list = el("ul");
      this.nav = el("nav");
      this.footer = el("footer");
      root.append(style, this.form, this.status, this.list, this.nav, this.footer);
      var self = this;
      this.form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        self.page = 1;
        self.load();
      });
    }

    get lang() {
      var l = (this.getAttribute("lang") || "").toLowerCase();
      return TEXT[l] ? l : "fr";
    }

    get size() {
      var n = parseInt(this.getAttribute("page-size") || "5", 10);
      return n >= 1 && n <= 50 ? n : 5;
    }

    connectedCallback() {
      this.labels();
      if (!this.started) {
        this.started = true;
        this.input.value = (this.getAttribute("q") || "").slice(0, 200);
      }
      this.load();
    }

    attributeChangedCallback() {
      if (!this.started) return;
      this.labels();
      this.page = 1;
      this.load();
    }

    labels() {
      var lang = this.lang;
      var colour = this.getAttribute("primary-color") || "";
      if (COLOUR.test(colour)) this.style.setProperty("--c", colour);
      else this.style.removeProperty("--c");
      this.button.textContent = text(lang, "search");
      this.input.placeholder = text(lang, "placeholder");
      this.input.setAttribute("aria-label", text(lang, "placeholder"));
      this.list.setAttribute("aria-label", text(lang, "label"));
    }

    load() {
      var lang = this.lang;
      var commune = this.getAttribute("commune") || "";
      if (!NAME.test(commune) || !PORTAL) {
        this.status.textContent = text(lang, "error");
        return;
      }
      var params = new URLSearchParams({
        commune: commune, q: this.input.value.slice(0, 200),
        tags: (this.getAttribute("tags") || "").slice(0, 500),
        page: String(this.page), page_size: String(this.size)
      });
      var seq = ++this.seq;
      var self = this;
      this.status.textContent = text(lang, "loading");
      fetch(PORTAL + "/api/3/action/communes_widget_search?" + params, {
        credentials: "omit", mode: "cors", headers: { Accept: "application/json" }
      })
        .then(function (r) {
          if (!r.ok) throw new Error(r.status);
          return r.json();
        })
        .then(function (body) {
          if (seq === self.seq) self.render(body.result);
        })
        .catch(function () {
          if (seq !== self.seq) return;
          self.status.textContent = text(lang, "error");
          self.list.replaceChildren();
          self.nav.replaceChildren();
        });
    }

    render(result) {
      var lang = this.lang;
      var self = this;
      var count = Number(result.count) || 0;
      this.status.textContent = count === 0 ? text(lang, "none")
        : count === 1 ? text(lang, "one") : text(lang, "count", { n: count });
      var items = (result.results || []).map(function (ds) {
        var li = el("li", "ds");
        var h = el("h3");
        h.append(link(ds.url, ds.title));
        li.append(h);
        var level = LEVELS[ds.access_level] ? ds.access_level : "restricted";
        var meta = el("div");
        meta.append(el("span", "b " + level, text(lang, level)));
        (ds.formats || []).slice(0, 8).forEach(function (f) {
          meta.append(el("span", "f", f));
        });
        li.append(meta);
        if (ds.excerpt) li.append(el("p", null, ds.excerpt));
        var links = el("div");
        links.append(link(ds.url, text(lang, "see"), "dl"));
        if (level === "open") {
          (ds.resources || []).slice(0, 5).forEach(function (r) {
            var what = r.name ? r.name + (r.format ? " (" + r.format + ")" : "") : r.format || "";
            links.append(link(r.url, text(lang, "download") + " " + what, "dl"));
          });
        }
        li.append(links);
        return li;
      });
      this.list.replaceChildren.apply(this.list, items);
      var pages = Math.max(1, Math.ceil(count / (Number(result.page_size) || this.size)));
      this.nav.replaceChildren();
      if (pages > 1) {
        var prev = el("button", null, text(lang, "prev"));
        var next = el("button", null, text(lang, "next"));
        prev.type = next.type = "button";
        prev.disabled = this.page <= 1;
        next.disabled = this.page >= pages;
        prev.addEventListener("click", function () { self.page -= 1; self.load(); });
        next.addEventListener("click", function () { self.page += 1; self.load(); });
        this.nav.append(prev, el("span", "m", text(lang, "page", { p: this.page, n: pages })), next);
      }
      var c = result.commune || {};
      if (!COLOUR.test(this.getAttribute("primary-color") || "") && COLOUR.test(c.primary_color || "")) {
        this.style.setProperty("--c", c.primary_color);
      }
      this.footer.replaceChildren(link(c.url, text(lang, "source", { t: c.title || "" })));
    }
  }

  window.customElements.define("commune-datasets", CommuneDatasets);
})();
