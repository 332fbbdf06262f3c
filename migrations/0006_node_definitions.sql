-- ComfyUI node definitions (GET /object_info) as the fleet reports them, stored once per content hash.
-- The JSON itself lives in R2 (`node-definitions/<hash>.json`): a ComfyUI with many custom nodes
-- reports several MB, past what one D1 row holds.
CREATE TABLE `node_definitions` (
	`hash` text PRIMARY KEY NOT NULL,
	`class_count` integer NOT NULL,
	`byte_size` integer NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
-- Which definitions each ComfyUI instance of a machine reports now.
CREATE TABLE `machine_node_definitions` (
	`machine_id` text NOT NULL,
	`instance_id` text NOT NULL,
	`hash` text NOT NULL,
	`reported_at` text NOT NULL,
	PRIMARY KEY(`machine_id`, `instance_id`),
	FOREIGN KEY (`machine_id`) REFERENCES `machines`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`hash`) REFERENCES `node_definitions`(`hash`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `machine_node_definitions_hash_idx` ON `machine_node_definitions` (`hash`);
