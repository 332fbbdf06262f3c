declare module "parse-prometheus-text-format" {
  export type ParsedFamily = {
    name: string;
    help: string;
    type: string;
    metrics: { value: string; labels?: Record<string, string> }[];
  };
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
