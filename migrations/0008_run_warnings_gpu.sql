ALTER TABLE `runs` ADD `warnings` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `gpu` text;
