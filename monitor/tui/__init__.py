"""The Textual dashboard: reads snapshots from the store on a timer, never the other way round."""
