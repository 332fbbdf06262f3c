import type { z } from "zod";
import type { Gpu, SystemLoad } from "../../protocol/v1";
import { slotKey, WHOLE_MACHINE } from "./job-queue";

export type InstanceState = { id: string; available: boolean; reason?: string };

/** Kept on each agent socket (it survives hibernation). */
export type AgentAttachment = {
  machineId: string;
  userId: string;
  /** The control plane's public origin as the agent reached it; used to sign URLs for this agent. */
  origin: string;
  greeted: boolean;
  draining: boolean;
  instances: InstanceState[];
  /** Live state from heartbeats, kept here (in memory) so a heartbeat writes no storage. */
  lastSeenAt?: number;
  gpus?: z.infer<typeof Gpu>[];
  system?: SystemLoad;
  /** When the machine's D1 row was last refreshed from heartbeats. */
  persistedAt?: number;
};

/** `gpus`: the names of the GPUs the slot's machine reports, for runs that require one. */
export type Slot = { ws: WebSocket; machineId: string; instanceId: string; gpus: string[] };

/** The agents connected to one Dispatcher, read from its hibernatable sockets. */
export class AgentRegistry {
  constructor(private readonly ctx: DurableObjectState) {}

  accept(ws: WebSocket, attachment: AgentAttachment) {
    this.ctx.acceptWebSocket(ws, [attachment.machineId]);
    ws.serializeAttachment(attachment);
  }

  attachment(ws: WebSocket): AgentAttachment {
    return ws.deserializeAttachment() as AgentAttachment;
  }

  update(ws: WebSocket, patch: Partial<AgentAttachment>) {
    ws.serializeAttachment({ ...this.attachment(ws), ...patch });
  }

  socketsOf(machineId: string): WebSocket[] {
    return this.ctx.getWebSockets(machineId).filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  /** The greeted socket of a machine, if it is connected. */
  socketOf(machineId: string): WebSocket | undefined {
    return this.socketsOf(machineId).find((ws) => this.attachment(ws).greeted);
  }

  connectedCount(): number {
    return this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN).length;
  }

  greeted(): AgentAttachment[] {
    return this.ctx
      .getWebSockets()
      .filter((ws) => ws.readyState === WebSocket.OPEN)
      .map((ws) => this.attachment(ws))
      .filter((agent) => agent.greeted);
  }

  /**
   * Available, enabled instances of greeted, non-draining agents that hold no lease, oldest socket
   * first. `disabled` holds slot keys, `machine/*` for a whole machine.
   */
  idleSlots(busy: ReadonlySet<string>, disabled: ReadonlySet<string> = new Set()): Slot[] {
    const slots: Slot[] = [];
    for (const ws of this.ctx.getWebSockets()) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      const agent = this.attachment(ws);
      if (!agent.greeted || agent.draining || disabled.has(slotKey(agent.machineId, WHOLE_MACHINE))) continue;
      for (const instance of agent.instances) {
        const key = slotKey(agent.machineId, instance.id);
        if (instance.available && !busy.has(key) && !disabled.has(key)) {
          slots.push({
            ws,
            machineId: agent.machineId,
            instanceId: instance.id,
            gpus: (agent.gpus ?? []).map((gpu) => gpu.name),
          });
        }
      }
    }
    return slots;
  }
}
