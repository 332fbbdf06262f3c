import { posix } from "node:path";
import { frame, NodeError } from "../exec/node-error";
import type { FileStore, FolderType } from "../files";
import { pyDirname, pyNormpath } from "../files";

export interface SavePath {
  folder: string;
  filename: string;
  counter: number;
  subfolder: string;
}

/**
 * `folder_paths.get_save_image_path`: the prefix's directory part becomes the subfolder, and the counter
 * continues after the highest `<name>_NNNNN` already in that folder.
 */
export function saveImagePath(
  files: FileStore,
  type: FolderType,
  filenamePrefix: string,
  width: number,
  height: number,
): SavePath {
  const prefix = filenamePrefix.includes("%")
    ? expandVariables(filenamePrefix, width, height)
    : filenamePrefix;
  const normal = pyNormpath(prefix);
  const subfolder = pyDirname(normal);
  const filename = posix.basename(normal);
  const outputDir = files.folder(type);
  const folder = posix.resolve(outputDir, subfolder);
  if (folder !== outputDir && !folder.startsWith(`${outputDir}/`)) {
    const common = commonPath(outputDir, folder);
    throw new NodeError(
      "**** ERROR: Saving image outside the output folder is not allowed." +
        `\n full_output_folder: ${folder}\n         output_dir: ${outputDir}\n         commonpath: ${common}`,
      "Exception",
      [
        frame(
          "/srv/comfy/ComfyUI/nodes.py",
          1590,
          "save_images",
          "full_output_folder, filename, counter, subfolder, filename_prefix = folder_paths.get_save_image_path(filename_prefix, self.output_dir, images[0].shape[1], images[0].shape[0])",
        ),
        frame("/srv/comfy/ComfyUI/folder_paths.py", 397, "get_save_image_path", "raise Exception(err)"),
      ],
    );
  }
  return { folder, filename, counter: nextCounter(files.list(folder), filename), subfolder };
}

function nextCounter(names: string[], filename: string): number {
  let highest = 0;
  for (const name of names) {
    // ComfyUI's map_filename: the name's first len(prefix)+1 characters must be `<prefix>_`.
    const head = name.slice(0, filename.length + 1);
    if (head.slice(0, -1).toLowerCase() !== filename.toLowerCase() || !head.endsWith("_")) continue;
    const digits = Number.parseInt(name.slice(filename.length + 1).split("_")[0] ?? "", 10);
    highest = Math.max(highest, Number.isNaN(digits) ? 0 : digits);
  }
  return highest + 1;
}

function expandVariables(prefix: string, width: number, height: number): string {
  const now = new Date();
  const pad = (value: number) => String(value).padStart(2, "0");
  return prefix
    .replaceAll("%width%", String(width))
    .replaceAll("%height%", String(height))
    .replaceAll("%year%", String(now.getFullYear()))
    .replaceAll("%month%", pad(now.getMonth() + 1))
    .replaceAll("%day%", pad(now.getDate()))
    .replaceAll("%hour%", pad(now.getHours()))
    .replaceAll("%minute%", pad(now.getMinutes()))
    .replaceAll("%second%", pad(now.getSeconds()));
}

function commonPath(a: string, b: string): string {
  const left = a.split("/");
  const right = b.split("/");
  let i = 0;
  while (i < left.length && i < right.length && left[i] === right[i]) i++;
  return left.slice(0, i).join("/") || "/";
}
