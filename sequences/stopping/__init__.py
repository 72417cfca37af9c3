"""stopping"""
