/**
 * Text from the data, shown to people (the table output, chart legends): control characters
 * become U+FFFD, so a symbol or payload can neither send escape sequences to a terminal nor put
 * bytes that XML forbids into an SVG. csv and json output keep the exact text.
 */
// deno-lint-ignore no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\ufffe\uffff]|\p{Cs}/gu;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, "\ufffd");
}
