// Builds UI-format workflows node by node, and beside each the API export that ComfyUI's editor makes of
// it, following the editor's graph-to-prompt rules (see README in fixtures/ui-workflows). It is written
// apart from the converter in src/, so the two check each other.
const WIDGET_TYPES = new Set(["INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"]);

function inputsOf(def) {
  return ["required", "optional"].flatMap((section) =>
    (def.input_order?.[section] ?? Object.keys(def.input?.[section] ?? {})).map((name) => {
      const spec = def.input[section][name];
      const type = Array.isArray(spec[0]) ? "COMBO" : spec[0];
      const options = spec[1] ?? {};
      const choices = Array.isArray(spec[0]) ? spec[0] : options.options;
      return { name, type, options, choices, widget: WIDGET_TYPES.has(type) && !options.forceInput };
    }),
  );
}

export class Workflow {
  constructor(definitions) {
    this.definitions = definitions;
    this.nodes = [];
    this.links = [];
    this.api = {};
    this.nextNode = 1;
    this.nextLink = 1;
  }

  /** Links `source` (a handle from `out`) into input slot `slot` of UI node `node`. */
  connect(source, node, slot) {
    const id = this.nextLink++;
    this.links.push([id, source.node.id, source.slot, node.id, slot, source.type]);
    node.inputs[slot].link = id;
    const output = source.node.outputs[source.slot];
    if (output) output.links.push(id);
    return id;
  }

  /**
   * Appends a UI node of class `type` with the fields every node has, in the editor's key order;
   * `fields` replaces the defaults (size, mode, slots, properties) and adds `widgets_values`.
   */
  place(type, fields) {
    const node = {
      id: this.nextNode++,
      type,
      pos: [0, 0],
      size: [300, 100],
      flags: {},
      order: this.nodes.length,
      mode: 0,
      inputs: [],
      outputs: [],
      properties: {},
      ...fields,
    };
    this.nodes.push(node);
    return node;
  }

  /**
   * A node of class `type`: `widgets` by input name (the rest take their defaults), `links` by input
   * name to handles, `mode` 2 (muted) or 4 (bypassed), `control` the value control after a seed.
   */
  add(type, { widgets = {}, links = {}, mode = 0, title, control = "fixed", upload = true } = {}) {
    const def = this.definitions[type];
    if (!def) throw new Error(`no definition for ${type}`);
    const node = this.place(type, { mode, properties: { "Node name for S&R": type }, widgets_values: [] });
    if (title) node.title = title;
    node.outputs = (def.output ?? []).map((outType, i) => ({
      name: def.output_name?.[i] ?? outType,
      type: outType,
      links: [],
    }));
    const apiInputs = {};
    const linked = [];
    for (const input of inputsOf(def)) {
      if (input.widget) {
        const value = widgets[input.name] ?? input.options.default ?? input.choices?.[0];
        node.widgets_values.push(value);
        if (input.options.control_after_generate) node.widgets_values.push(control);
        if (upload && (input.options.image_upload || input.options.video_upload))
          node.widgets_values.push("image");
        if (value !== undefined) apiInputs[input.name] = Array.isArray(value) ? { __value__: value } : value;
      }
      if (!input.widget || links[input.name]) {
        const slot = { name: input.name, type: input.type, link: null };
        if (input.widget) slot.widget = { name: input.name };
        node.inputs.push(slot);
        if (links[input.name]) linked.push([node.inputs.length - 1, input.name, links[input.name]]);
      }
    }
    for (const name of Object.keys(links)) {
      if (!node.inputs.some((slot) => slot.name === name)) throw new Error(`${type} has no input ${name}`);
    }
    for (const [slot, name, source] of linked) {
      this.connect(source, node, slot);
      if (source.api === null) delete apiInputs[name];
      else if (source.api !== undefined)
        apiInputs[name] = Array.isArray(source.api) ? [...source.api] : source.api.value;
    }
    if (mode !== 2 && mode !== 4) {
      this.api[String(node.id)] = {
        inputs: apiInputs,
        class_type: type,
        _meta: { title: title ?? def.display_name ?? type },
      };
    }
    const handle = (slot, api) => ({ node, slot, type: node.outputs[slot]?.type, api });
    return {
      node,
      out: (slot = 0) => handle(slot, mode === 2 ? null : [String(node.id), slot]),
      /** A bypassed node's output stands for the input the editor passes through. */
      through: (slot, source) => handle(slot, source ? source.api : null),
    };
  }

  /** A frontend-only Reroute: links through it reach the source. */
  reroute(source) {
    const node = this.place("Reroute", {
      size: [75, 26],
      inputs: [{ name: "", type: "*", link: null }],
      outputs: [{ name: "", type: source.type, links: [] }],
      properties: { showOutputText: false, horizontal: false },
    });
    this.connect(source, node, 0);
    return { node, slot: 0, type: source.type, api: source.api };
  }

  /** A frontend-only PrimitiveNode holding `value`; its targets receive the value. */
  primitive(value, type, control) {
    const widgets_values = control ? [value, control] : [value];
    const node = this.place("PrimitiveNode", {
      size: [210, 82],
      outputs: [{ name: type, type, links: [], widget: { name: type } }],
      properties: { "Run widget replace on values": false },
      widgets_values,
    });
    return { node, slot: 0, type, api: { value } };
  }

  /** A Note or MarkdownNote, which never reaches the API. */
  note(type, text) {
    this.place(type, { widgets_values: [text] });
  }

  ui(extra = {}) {
    return {
      last_node_id: this.nextNode - 1,
      last_link_id: this.nextLink - 1,
      nodes: this.nodes,
      links: this.links,
      groups: [],
      config: {},
      extra: {},
      version: 0.4,
      ...extra,
    };
  }
}
