import { isObject, type JsonObject, put } from "../util";
import {
  defaultValue,
  definitionInputs,
  hasControlWidget,
  hasUploadWidget,
  type InputDefinition,
  isWidgetInput,
  type NodeDefinition,
} from "./definitions";

/** A widget as the editor lays them out: an input's value, or an unsent helper (value control, upload). */
type WidgetSlot = { input: InputDefinition; helper: false } | { helper: "control" | "upload" };

const CONTROL_VALUES = new Set(["fixed", "increment", "decrement", "randomize", "increment-wrap"]);

function widgetSlots(definition: NodeDefinition): WidgetSlot[] {
  return definitionInputs(definition)
    .filter(isWidgetInput)
    .flatMap((input): WidgetSlot[] => [
      { input, helper: false },
      ...(hasControlWidget(input) ? [{ helper: "control" as const }] : []),
      ...(hasUploadWidget(input) ? [{ helper: "upload" as const }] : []),
    ]);
}

/** Whether a helper widget's slot holds a value here: all helpers saved, none saved, or recognisable ones. */
function helperPresent(slot: WidgetSlot, value: unknown, allSaved: boolean, noneSaved: boolean) {
  if (allSaved) return true;
  if (noneSaved) return false;
  return slot.helper === "control" ? CONTROL_VALUES.has(value as string) : value === "image";
}

/** The editor sends array values wrapped, since a bare two-element array would read as a link. */
export const wrapValue = (value: unknown) => (Array.isArray(value) ? { __value__: value } : value);

/**
 * The values of a node's widgets by input name, read from `widgets_values` in definition order as the
 * editor lays its widgets out. Returns a reason string when the saved values cannot fit the definition.
 */
export function widgetValues(saved: unknown, definition: NodeDefinition): JsonObject | string {
  const slots = widgetSlots(definition);
  const values: JsonObject = {};
  if (isObject(saved)) {
    for (const slot of slots) {
      if (slot.helper) continue;
      const value = Object.hasOwn(saved, slot.input.name) ? saved[slot.input.name] : defaultValue(slot.input);
      if (value !== undefined) put(values, slot.input.name, wrapValue(value));
    }
    return values;
  }
  const list = Array.isArray(saved) ? saved : [];
  const inputs = slots.filter((slot) => !slot.helper).length;
  if (list.length > slots.length) {
    return `it has ${list.length} widget values; its definition has ${inputs} widgets (${slots.length} with value controls and upload buttons)`;
  }
  let next = 0;
  for (const slot of slots) {
    if (slot.helper) {
      if (
        next < list.length &&
        helperPresent(slot, list[next], list.length === slots.length, list.length === inputs)
      )
        next++;
      continue;
    }
    const value = next < list.length ? list[next++] : defaultValue(slot.input);
    if (value !== undefined) put(values, slot.input.name, wrapValue(value));
  }
  if (next < list.length) {
    return `its widget values do not fit its definition: ${list.length - next} left over after ${inputs} widgets`;
  }
  return values;
}
