// An address the console does not know.
import { append, h, heading } from "../ui.js";

export default {
  auth: false,
  render(view) {
    append(view, 
      heading("Page not found"),
      h("p", {}, "The console has no page at this address. ", h("a", { href: "#/products" }, "Go to the products"), "."),
    );
  },
};
