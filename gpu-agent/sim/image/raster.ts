/** An 8-bit RGB picture. ComfyUI's IMAGE is a batch of these (a list here, a tensor there). */
export interface Raster {
  width: number;
  height: number;
  /** Row-major RGB triplets. */
  rgb: Uint8Array;
}

export function solid(width: number, height: number, color: number): Raster {
  const rgb = new Uint8Array(width * height * 3);
  const channels = [(color >> 16) & 0xff, (color >> 8) & 0xff, color & 0xff];
  for (let i = 0; i < rgb.length; i++) rgb[i] = channels[i % 3] as number;
  return { width, height, rgb };
}

export function invert(image: Raster): Raster {
  return { ...image, rgb: image.rgb.map((value) => 255 - value) };
}

/** A separable Gaussian blur with a (2·radius+1) kernel; edges are clamped. */
export function gaussianBlur(image: Raster, radius: number, sigma: number): Raster {
  const kernel = gaussianKernel(radius, sigma);
  const horizontal = convolve(image, kernel, 1, 0);
  return convolve(horizontal, kernel, 0, 1);
}

function gaussianKernel(radius: number, sigma: number): Float64Array {
  const kernel = new Float64Array(radius * 2 + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const weight = Math.exp(-(i * i) / (2 * sigma * sigma));
    kernel[i + radius] = weight;
    sum += weight;
  }
  return kernel.map((weight) => weight / sum);
}

function convolve(image: Raster, kernel: Float64Array, dx: number, dy: number): Raster {
  const { width, height, rgb } = image;
  const radius = (kernel.length - 1) / 2;
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let k = -radius; k <= radius; k++) {
          const sx = clamp(x + k * dx, 0, width - 1);
          const sy = clamp(y + k * dy, 0, height - 1);
          acc += (kernel[k + radius] as number) * (rgb[(sy * width + sx) * 3 + c] as number);
        }
        out[(y * width + x) * 3 + c] = Math.round(acc);
      }
    }
  }
  return { width, height, rgb: out };
}

export type ResizeMethod = "nearest" | "bilinear";

export function resize(image: Raster, width: number, height: number, method: ResizeMethod): Raster {
  const out = new Uint8Array(width * height * 3);
  const scaleX = image.width / width;
  const scaleY = image.height / height;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = (x + 0.5) * scaleX - 0.5;
      const sy = (y + 0.5) * scaleY - 0.5;
      for (let c = 0; c < 3; c++) {
        out[(y * width + x) * 3 + c] =
          method === "nearest"
            ? sample(image, Math.round(sx), Math.round(sy), c)
            : bilinear(image, sx, sy, c);
      }
    }
  }
  return { width, height, rgb: out };
}

function bilinear(image: Raster, sx: number, sy: number, c: number): number {
  const x0 = Math.floor(sx);
  const y0 = Math.floor(sy);
  const fx = sx - x0;
  const fy = sy - y0;
  const top = sample(image, x0, y0, c) * (1 - fx) + sample(image, x0 + 1, y0, c) * fx;
  const bottom = sample(image, x0, y0 + 1, c) * (1 - fx) + sample(image, x0 + 1, y0 + 1, c) * fx;
  return Math.round(top * (1 - fy) + bottom * fy);
}

function sample(image: Raster, x: number, y: number, c: number): number {
  const cx = clamp(x, 0, image.width - 1);
  const cy = clamp(y, 0, image.height - 1);
  return image.rgb[(cy * image.width + cx) * 3 + c] as number;
}

/** Cuts the centre of the picture to the aspect ratio of width×height, as ComfyUI's `crop: center`. */
export function cropToAspect(image: Raster, width: number, height: number): Raster {
  const target = width / height;
  const current = image.width / image.height;
  let cropWidth = image.width;
  let cropHeight = image.height;
  if (current > target) cropWidth = Math.max(1, Math.round(image.height * target));
  else if (current < target) cropHeight = Math.max(1, Math.round(image.width / target));
  const left = Math.floor((image.width - cropWidth) / 2);
  const top = Math.floor((image.height - cropHeight) / 2);
  const rgb = new Uint8Array(cropWidth * cropHeight * 3);
  for (let y = 0; y < cropHeight; y++) {
    const start = ((top + y) * image.width + left) * 3;
    rgb.set(image.rgb.subarray(start, start + cropWidth * 3), y * cropWidth * 3);
  }
  return { width: cropWidth, height: cropHeight, rgb };
}

/** A smooth two-colour gradient picked by `seed`: the stand-in for a decoded latent. */
export function seededGradient(width: number, height: number, seed: number): Raster {
  const from = [(seed * 97) % 256, (seed * 57) % 256, (seed * 23) % 256];
  const to = [255 - (from[0] as number), 255 - (from[1] as number), 255 - (from[2] as number)];
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x + y) / Math.max(1, width + height - 2);
      for (let c = 0; c < 3; c++) {
        rgb[(y * width + x) * 3 + c] = Math.round((from[c] as number) * (1 - t) + (to[c] as number) * t);
      }
    }
  }
  return { width, height, rgb };
}

/** Blends a picture towards flat grey (`amount` 0: unchanged, 1: all grey), like an early sampler preview. */
export function haze(image: Raster, amount: number): Raster {
  return { ...image, rgb: image.rgb.map((value) => Math.round(value * (1 - amount) + 128 * amount)) };
}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}
