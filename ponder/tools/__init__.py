"""ponder.tools"""
