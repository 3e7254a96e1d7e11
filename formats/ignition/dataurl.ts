// File contents as RFC 2397 data URLs, as Butane writes them (coreos/butane base/util/url.go
// MakeDataURL): percent-encoded text or base64, whichever is shorter. Ignition 2.14 applies both
// byte for byte (checked with its files stage; see /work/notes/ignition.md §4).

const PERCENT = "data:,";
const BASE64 = "data:;base64,";

/**
 * `encodeURIComponent` leaves exactly [A-Za-z0-9-_.!~*'()] unescaped, the same set as the dataurl
 * package's Escape that Butane and Ignition use; every other byte of the UTF-8 text is %XX.
 */
export function dataUrl(content: string): string {
    const percent = PERCENT + encodeURIComponent(content);
    const base64 = BASE64 + Buffer.from(content, "utf8").toString("base64");
    return base64.length < percent.length ? base64 : percent;
}

/** The text of a data URL this module writes (or any `data:[<mediatype>][;base64],` URL of UTF-8 text). Throws on anything else. */
export function dataUrlText(url: string): string {
    const m = /^data:([^,]*),(.*)$/s.exec(url);
    if (!m) throw new Error(`not a data URL: ${JSON.stringify(url.slice(0, 40))}`);
    const [, meta = "", data = ""] = m;
    if (/;base64$/i.test(meta)) return Buffer.from(data, "base64").toString("utf8");
    return decodeURIComponent(data);
}
