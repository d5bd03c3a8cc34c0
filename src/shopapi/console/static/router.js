// Pages live in the URL fragment (`#/products/7`), so the service serves one page at `/`
// and a reload or a bookmark lands on the same screen.
//
// A route is `{path: "/products/:id", page, title}`; a page is a module whose default
// export is `{auth, render(view, context)}`. `render` fills `view` (a fresh element) and
// may await API calls: `context.signal` aborts when the user moves on, so an answer that
// arrives late never draws over the next page.

function compile(path) {
  const names = [];
  const pattern = path.replace(/:([a-z]+)/g, (_, name) => {
    names.push(name);
    // Ids are as the API writes them: digits without a leading zero.
    return name === "id" ? "([1-9][0-9]{0,17})" : "([^/]+)";
  });
  return { regex: new RegExp(`^${pattern}$`), names };
}

export function parse(hash) {
  const raw = hash.replace(/^#/, "") || "/";
  const mark = raw.indexOf("?");
  if (mark < 0) return { path: raw, query: new URLSearchParams() };
  return { path: raw.slice(0, mark), query: new URLSearchParams(raw.slice(mark + 1)) };
}

export function createRouter({ routes, outlet, notFound, guard }) {
  const table = routes.map((route) => ({ ...route, ...compile(route.path) }));
  let controller = null;
  let leaveCheck = null;
  let current = null;
  let restoring = false;

  function match(path) {
    for (const route of table) {
      const found = route.regex.exec(path);
      if (!found) continue;
      const params = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(found[i + 1]);
      });
      return { route, params };
    }
    return { route: { page: notFound, title: "Not found" }, params: {} };
  }

  async function render() {
    const { path, query } = parse(location.hash);
    const { route, params } = match(path);
    const redirect = guard ? guard(route, path) : null;
    if (redirect) {
      navigate(redirect, { replace: true });
      return;
    }
    controller?.abort();
    controller = new AbortController();
    leaveCheck = null;
    current = { route, params, query, hash: location.hash };
    const view = document.createElement("div");
    outlet.replaceChildren(view);
    document.title = `${route.title} - Shop console`;
    const context = {
      params,
      query,
      signal: controller.signal,
      navigate,
      refresh: render,
      /** `check()` returns a question to ask before leaving the page, or null. */
      onLeave(check) {
        leaveCheck = check;
      },
    };
    const rendering = route.page.render(view, context);
    // The heading is drawn before the first await; moving focus there tells screen
    // readers and keyboard users that a new page is shown.
    outlet.querySelector("h1")?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
    try {
      await rendering;
    } catch (error) {
      if (error.name !== "AbortError") throw error;
    }
  }

  function navigate(hash, { replace = false } = {}) {
    const target = hash.startsWith("#") ? hash : `#${hash}`;
    if (target === location.hash) {
      render();
    } else if (replace) {
      history.replaceState(null, "", target);
      render();
    } else {
      location.hash = target;
    }
  }

  function onHashChange(event) {
    if (restoring) {
      restoring = false;
      return;
    }
    if (!location.hash.startsWith("#/") && location.hash !== "") return;
    const question = leaveCheck?.();
    if (question && !window.confirm(question)) {
      restoring = true;
      location.hash = new URL(event.oldURL).hash;
      return;
    }
    render();
  }

  return {
    start() {
      window.addEventListener("hashchange", onHashChange);
      window.addEventListener("beforeunload", (event) => {
        if (leaveCheck?.()) {
          event.preventDefault();
          event.returnValue = ""; // older browsers ask only when this is set
        }
      });
      render();
    },
    navigate,
    refresh: render,
    get current() {
      return current;
    },
  };
}
