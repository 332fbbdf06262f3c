/** The navigation's line icons (24×24, stroked in the current colour). */
const PATHS: Record<string, string> = {
  runs: "M5 4l14 8-14 8z",
  deployments: "M12 3l8 4.5v9L12 21l-8-4.5v-9zM12 12l8-4.5M12 12v9M12 12L4 7.5",
  machines: "M4 5h16v6H4zM4 13h16v6H4zM8 8h.01M8 16h.01",
  files: "M6 3h8l4 4v14H6zM14 3v4h4",
  keys: "M14 10a4 4 0 1 0-3.5 3.97L10 14v3h3v3h3l1-1v-3.5l-3.03-3.03A4 4 0 0 0 14 10zM15 8h.01",
};

export function Icon({ name }: { name: keyof typeof PATHS }) {
  return (
    <svg
      viewBox="0 0 24 24"
      width="18"
      height="18"
      fill="none"
      stroke="currentColor"
      stroke-width="1.8"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden="true"
    >
      <path d={PATHS[name]} />
    </svg>
  );
}
