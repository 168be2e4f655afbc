"""ponder.memory"""
