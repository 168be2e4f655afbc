"""ponder.graphs"""
