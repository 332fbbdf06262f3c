// The hand-built part of the corpus: common graphs and the editor's special cases, one function each.
import { Workflow } from "./builder.mjs";

const CKPT = "v1-5-pruned-emaonly-fp16.safetensors";

function textToImage(w, { sampler = {}, positive = "a castle on a hill", control } = {}) {
  const ckpt = w.add("CheckpointLoaderSimple", { widgets: { ckpt_name: CKPT } });
  const pos = w.add("CLIPTextEncode", { widgets: { text: positive }, links: { clip: ckpt.out(1) } });
  const neg = w.add("CLIPTextEncode", { widgets: { text: "blurry" }, links: { clip: ckpt.out(1) } });
  const latent = w.add("EmptyLatentImage", { widgets: { width: 512, height: 512, batch_size: 1 } });
  const ks = w.add("KSampler", {
    widgets: { seed: 42, steps: 20, cfg: 7, ...sampler },
    control,
    links: { model: ckpt.out(0), positive: pos.out(), negative: neg.out(), latent_image: latent.out() },
  });
  const decode = w.add("VAEDecode", { links: { samples: ks.out(), vae: ckpt.out(2) } });
  return { ckpt, pos, neg, latent, ks, decode };
}

/** A positive and a negative prompt, both encoded with `clip`. */
function prompts(w, clip, positive, negative) {
  return [positive, negative].map((text) => w.add("CLIPTextEncode", { widgets: { text }, links: { clip } }));
}

/** Decodes `samples` with `vae` into an output node (SaveImage unless `output` names another). */
function decodeAndSave(w, samples, vae, widgets = {}, output = "SaveImage") {
  const decode = w.add("VAEDecode", { links: { samples, vae } });
  w.add(output, { widgets, links: { images: decode.out() } });
}

export const cases = {
  text_to_image(w) {
    const { decode } = textToImage(w, { control: "randomize" });
    w.add("SaveImage", { widgets: { filename_prefix: "t2i" }, links: { images: decode.out() } });
  },
  image_to_image(w) {
    const ckpt = w.add("CheckpointLoaderSimple", { widgets: { ckpt_name: CKPT } });
    const load = w.add("LoadImage", { widgets: { image: "example.png" } });
    const enc = w.add("VAEEncode", { links: { pixels: load.out(), vae: ckpt.out(2) } });
    const [pos, neg] = prompts(w, ckpt.out(1), "oil painting", "");
    const ks = w.add("KSampler", {
      widgets: { seed: 7, denoise: 0.6 },
      control: "increment",
      links: { model: ckpt.out(0), positive: pos.out(), negative: neg.out(), latent_image: enc.out() },
    });
    decodeAndSave(w, ks.out(), ckpt.out(2), { filename_prefix: "i2i" });
  },
  lora(w) {
    const ckpt = w.add("CheckpointLoaderSimple", { widgets: { ckpt_name: CKPT } });
    const lora = w.add("LoraLoader", {
      widgets: { lora_name: "style.safetensors", strength_model: 0.8, strength_clip: 0.7 },
      links: { model: ckpt.out(0), clip: ckpt.out(1) },
    });
    const [pos, neg] = prompts(w, lora.out(1), "portrait", "bad hands");
    const latent = w.add("EmptyLatentImage", { widgets: { width: 768, height: 512 } });
    const ks = w.add("KSampler", {
      links: { model: lora.out(0), positive: pos.out(), negative: neg.out(), latent_image: latent.out() },
    });
    decodeAndSave(w, ks.out(), ckpt.out(2));
  },
  hires_fix(w) {
    const { ckpt, pos, neg, ks } = textToImage(w);
    const up = w.add("LatentUpscaleBy", {
      widgets: { upscale_method: "bislerp", scale_by: 1.5 },
      links: { samples: ks.out() },
    });
    const ks2 = w.add("KSampler", {
      widgets: { seed: 43, steps: 12, denoise: 0.5 },
      control: "randomize",
      links: { model: ckpt.out(0), positive: pos.out(), negative: neg.out(), latent_image: up.out() },
    });
    decodeAndSave(w, ks2.out(), ckpt.out(2), { filename_prefix: "hires" });
  },
  inpaint(w) {
    const ckpt = w.add("CheckpointLoaderSimple", { widgets: { ckpt_name: "inpaint.safetensors" } });
    const image = w.add("LoadImage", { widgets: { image: "room.png" } });
    const enc = w.add("VAEEncodeForInpaint", {
      widgets: { grow_mask_by: 8 },
      links: { pixels: image.out(0), vae: ckpt.out(2), mask: image.out(1) },
    });
    const pos = w.add("CLIPTextEncode", {
      widgets: { text: "a cat on the sofa" },
      links: { clip: ckpt.out(1) },
    });
    const neg = w.add("CLIPTextEncode", { widgets: { text: "" }, links: { clip: ckpt.out(1) } });
    const ks = w.add("KSampler", {
      links: { model: ckpt.out(0), positive: pos.out(), negative: neg.out(), latent_image: enc.out() },
    });
    decodeAndSave(w, ks.out(), ckpt.out(2));
  },
  controlnet(w) {
    const { ckpt, pos, neg, latent } = { ...textToImageParts(w) };
    const cn = w.add("ControlNetLoader", { widgets: { control_net_name: "canny.safetensors" } });
    const hint = w.add("LoadImage", { widgets: { image: "edges.png" } });
    const apply = w.add("ControlNetApplyAdvanced", {
      widgets: { strength: 0.9, start_percent: 0, end_percent: 0.8 },
      links: { positive: pos.out(), negative: neg.out(), control_net: cn.out(), image: hint.out() },
    });
    const ks = w.add("KSampler", {
      links: {
        model: ckpt.out(0),
        positive: apply.out(0),
        negative: apply.out(1),
        latent_image: latent.out(),
      },
    });
    decodeAndSave(w, ks.out(), ckpt.out(2), {}, "PreviewImage");
  },
  area_composition(w) {
    const { ckpt, neg, latent } = textToImageParts(w);
    const a = w.add("CLIPTextEncode", { widgets: { text: "sky" }, links: { clip: ckpt.out(1) } });
    const b = w.add("CLIPTextEncode", { widgets: { text: "sea" }, links: { clip: ckpt.out(1) } });
    const areaA = w.add("ConditioningSetArea", {
      widgets: { width: 512, height: 256, x: 0, y: 0, strength: 1 },
      links: { conditioning: a.out() },
    });
    const areaB = w.add("ConditioningSetArea", {
      widgets: { width: 512, height: 256, x: 0, y: 256, strength: 0.8 },
      links: { conditioning: b.out() },
    });
    const both = w.add("ConditioningCombine", {
      links: { conditioning_1: areaA.out(), conditioning_2: areaB.out() },
    });
    const ks = w.add("KSampler", {
      links: { model: ckpt.out(0), positive: both.out(), negative: neg.out(), latent_image: latent.out() },
    });
    decodeAndSave(w, ks.out(), ckpt.out(2));
  },
  ksampler_advanced(w) {
    const { ckpt, pos, neg, latent } = textToImageParts(w);
    const ks = w.add("KSamplerAdvanced", {
      widgets: { noise_seed: 123456789, steps: 30, end_at_step: 20, return_with_leftover_noise: "enable" },
      control: "decrement",
      links: { model: ckpt.out(0), positive: pos.out(), negative: neg.out(), latent_image: latent.out() },
    });
    decodeAndSave(w, ks.out(), ckpt.out(2));
  },
  custom_sampling(w) {
    const { ckpt, pos, neg, latent } = textToImageParts(w);
    const noise = w.add("RandomNoise", { widgets: { noise_seed: 99 }, control: "randomize" });
    const guider = w.add("CFGGuider", {
      widgets: { cfg: 5.5 },
      links: { model: ckpt.out(0), positive: pos.out(), negative: neg.out() },
    });
    const sampler = w.add("KSamplerSelect", { widgets: { sampler_name: "dpmpp_2m" } });
    const sigmas = w.add("BasicScheduler", {
      widgets: { scheduler: "karras", steps: 25, denoise: 1 },
      links: { model: ckpt.out(0) },
    });
    const run = w.add("SamplerCustomAdvanced", {
      links: {
        noise: noise.out(),
        guider: guider.out(),
        sampler: sampler.out(),
        sigmas: sigmas.out(),
        latent_image: latent.out(),
      },
    });
    decodeAndSave(w, run.out(1), ckpt.out(2));
  },
  image_pipeline(w) {
    const empty = w.add("EmptyImage", {
      widgets: { width: 256, height: 256, batch_size: 1, color: 16711680 },
    });
    const blur = w.add("ImageBlur", {
      widgets: { blur_radius: 3, sigma: 1.5 },
      links: { image: empty.out() },
    });
    const scale = w.add("ImageScaleBy", {
      widgets: { upscale_method: "bilinear", scale_by: 2 },
      links: { image: blur.out() },
    });
    w.add("SaveImage", { widgets: { filename_prefix: "pipeline" }, links: { images: scale.out() } });
    w.add("PreviewImage", { links: { images: blur.out() } });
  },
  load_invert_save(w) {
    const load = w.add("LoadImage", { widgets: { image: "example.png" } });
    const inv = w.add("ImageInvert", { links: { image: load.out() } });
    w.add("SaveImage", { widgets: { filename_prefix: "invert" }, links: { images: inv.out() } });
  },
  no_saved_value_controls(w) {
    // Workflows saved before the editor kept value controls in widgets_values.
    const { decode } = textToImage(w);
    w.add("SaveImage", { links: { images: decode.out() } });
    for (const node of w.nodes) {
      if (node.type === "KSampler") node.widgets_values.splice(1, 1);
    }
  },
  reroutes(w) {
    const ckpt = w.add("CheckpointLoaderSimple", { widgets: { ckpt_name: CKPT } });
    const clip = w.reroute(w.reroute(ckpt.out(1)));
    const vae = w.reroute(ckpt.out(2));
    const pos = w.add("CLIPTextEncode", { widgets: { text: "forest" }, links: { clip } });
    const neg = w.add("CLIPTextEncode", { widgets: { text: "" }, links: { clip } });
    const latent = w.add("EmptyLatentImage");
    const ks = w.add("KSampler", {
      links: { model: ckpt.out(0), positive: pos.out(), negative: neg.out(), latent_image: latent.out() },
    });
    const dec = w.add("VAEDecode", { links: { samples: ks.out(), vae } });
    w.add("SaveImage", { links: { images: w.reroute(dec.out()) } });
  },
  primitives(w) {
    const seed = w.primitive(1234, "INT", "randomize");
    const size = w.primitive(640, "INT", "fixed");
    const ckpt = w.add("CheckpointLoaderSimple", { widgets: { ckpt_name: CKPT } });
    const [pos, neg] = prompts(w, ckpt.out(1), "lake", "");
    const latent = w.add("EmptyLatentImage", {
      widgets: { width: 640, height: 640 },
      links: { width: size, height: size },
    });
    const ks = w.add("KSampler", {
      widgets: { seed: 1234 },
      control: "randomize",
      links: {
        seed,
        model: ckpt.out(0),
        positive: pos.out(),
        negative: neg.out(),
        latent_image: latent.out(),
      },
    });
    decodeAndSave(w, ks.out(), ckpt.out(2));
  },
  converted_widget_linked(w) {
    const seed = w.add("PrimitiveInt", { widgets: { value: 5 }, control: "increment" });
    const a = w.add("PrimitiveString", { widgets: { value: "a red " } });
    const b = w.add("PrimitiveString", { widgets: { value: "fox" } });
    const text = w.add("StringConcatenate", {
      widgets: { delimiter: "" },
      links: { string_a: a.out(), string_b: b.out() },
    });
    const ckpt = w.add("CheckpointLoaderSimple", { widgets: { ckpt_name: CKPT } });
    const pos = w.add("CLIPTextEncode", {
      widgets: { text: "" },
      links: { text: text.out(), clip: ckpt.out(1) },
    });
    const neg = w.add("CLIPTextEncode", { widgets: { text: "" }, links: { clip: ckpt.out(1) } });
    const latent = w.add("EmptyLatentImage");
    const ks = w.add("KSampler", {
      links: {
        seed: seed.out(),
        model: ckpt.out(0),
        positive: pos.out(),
        negative: neg.out(),
        latent_image: latent.out(),
      },
    });
    decodeAndSave(w, ks.out(), ckpt.out(2));
  },
  bypassed(w) {
    const load = w.add("LoadImage", { widgets: { image: "example.png" } });
    const blur = w.add("ImageBlur", { widgets: { blur_radius: 9 }, mode: 4 });
    // The bypassed blur sits between load and invert; invert receives load's image.
    w.connect(load.out(), blur.node, 0);
    const inv = w.add("ImageInvert", { links: { image: blur.through(0, load.out()) } });
    w.add("SaveImage", { links: { images: inv.out() } });
  },
  muted(w) {
    const load = w.add("LoadImage", { widgets: { image: "example.png" } });
    const inv = w.add("ImageInvert", { links: { image: load.out() } });
    w.add("SaveImage", { widgets: { filename_prefix: "kept" }, links: { images: inv.out() } });
    const muted = w.add("ImageBlur", { mode: 2, links: { image: load.out() } });
    w.add("PreviewImage", { links: { images: muted.out() } });
  },
  notes_and_groups(w) {
    w.note("Note", "Load an image, invert it.");
    w.note("MarkdownNote", "## Output\nSaved under `invert`.");
    const load = w.add("LoadImage", { widgets: { image: "example.png" }, title: "Input photo" });
    const inv = w.add("ImageInvert", { links: { image: load.out() } });
    w.add("SaveImage", {
      widgets: { filename_prefix: "invert" },
      links: { images: inv.out() },
      title: "Result",
    });
  },
  comfydeploy_inputs(w) {
    const text = w.add("ComfyUIDeployExternalText", {
      widgets: { input_id: "prompt", default_value: "a lighthouse" },
    });
    const image = w.add("ComfyUIDeployExternalImage", {
      widgets: { input_id: "photo", default_value_url: "" },
    });
    const ckpt = w.add("CheckpointLoaderSimple", { widgets: { ckpt_name: CKPT } });
    const pos = w.add("CLIPTextEncode", {
      widgets: { text: "" },
      links: { text: text.out(), clip: ckpt.out(1) },
    });
    const neg = w.add("CLIPTextEncode", { widgets: { text: "" }, links: { clip: ckpt.out(1) } });
    const enc = w.add("VAEEncode", { links: { pixels: image.out(), vae: ckpt.out(2) } });
    const ks = w.add("KSampler", {
      widgets: { denoise: 0.7 },
      links: { model: ckpt.out(0), positive: pos.out(), negative: neg.out(), latent_image: enc.out() },
    });
    decodeAndSave(w, ks.out(), ckpt.out(2));
  },
  object_links(w) {
    cases.load_invert_save(w);
    w.objectLinks = true;
  },
};

function textToImageParts(w) {
  const ckpt = w.add("CheckpointLoaderSimple", { widgets: { ckpt_name: CKPT } });
  const pos = w.add("CLIPTextEncode", {
    widgets: { text: "a harbour at dawn" },
    links: { clip: ckpt.out(1) },
  });
  const neg = w.add("CLIPTextEncode", { widgets: { text: "text, watermark" }, links: { clip: ckpt.out(1) } });
  const latent = w.add("EmptyLatentImage", { widgets: { width: 512, height: 768 } });
  return { ckpt, pos, neg, latent };
}

export { Workflow };
